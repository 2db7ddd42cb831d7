#include "sharebox/http/multipart.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "sharebox/http/syntax.hpp"

namespace sharebox::http {

namespace {

class multipart_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "multipart"; }
  std::string message(int ev) const override {
    switch (static_cast<multipart_errc>(ev)) {
      case multipart_errc::bad_boundary:
        return "invalid multipart boundary";
      case multipart_errc::malformed:
        return "malformed multipart body";
      case multipart_errc::header_too_large:
        return "multipart part header too large";
      case multipart_errc::too_many_parts:
        return "too many multipart parts";
      case multipart_errc::missing_final_boundary:
        return "multipart body ended before the closing boundary";
    }
    return "unknown multipart error";
  }
};

constexpr std::string_view crlf = "\r\n";

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

bool is_bchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// RFC 2046 §5.1.1: 1..70 bchars, not ending in a space.
bool valid_boundary(std::string_view b) {
  return !b.empty() && b.size() <= 70 && b.back() != ' ' &&
         std::all_of(b.begin(), b.end(), is_bchar);
}

// Backslash only escapes '"' and '\': old browsers send raw Windows paths like "C:\dir\a.txt"
// in filename, and treating every backslash as an escape would mangle them.
// An unterminated string runs to the end; `terminated` tells strict callers about it.
std::string unquote(std::string_view s, std::size_t& pos, bool& terminated) {
  std::string out;
  ++pos;  // opening quote
  while (pos < s.size() && s[pos] != '"') {
    if (s[pos] == '\\' && pos + 1 < s.size() && (s[pos + 1] == '"' || s[pos + 1] == '\\')) ++pos;
    out.push_back(s[pos++]);
  }
  terminated = pos < s.size();
  if (terminated) ++pos;
  return out;
}

struct parameter {
  std::string name;  // lower-cased
  std::string value;
  bool well_formed = true;
};

// Parses `; name=value; name="quoted"` lists leniently: a malformed parameter is skipped up to
// the next ';' instead of discarding everything, since this only feeds names and filenames.
std::vector<parameter> parse_parameters(std::string_view s) {
  std::vector<parameter> params;
  std::size_t pos = 0;
  while (pos < s.size()) {
    if (s[pos] == ';' || is_ows(s[pos])) {
      ++pos;
      continue;
    }
    const std::size_t name_end = s.find_first_of("=;", pos);
    const std::string_view name = trim_ows(s.substr(pos, name_end - pos));
    if (name_end == std::string_view::npos || s[name_end] == ';' || !is_token(name)) {
      pos = name_end == std::string_view::npos ? s.size() : s.find(';', pos);
      if (pos == std::string_view::npos) pos = s.size();
      continue;
    }
    pos = name_end + 1;
    while (pos < s.size() && is_ows(s[pos]))
      ++pos;
    parameter p;
    std::transform(name.begin(), name.end(), std::back_inserter(p.name), ascii_lower);
    if (pos < s.size() && s[pos] == '"') {
      p.value = unquote(s, pos, p.well_formed);
    } else {
      const std::size_t value_end = std::min(s.find(';', pos), s.size());
      p.value = std::string(trim_ows(s.substr(pos, value_end - pos)));
      pos = value_end;
    }
    params.push_back(std::move(p));
  }
  return params;
}

const parameter* find_parameter(const std::vector<parameter>& params, std::string_view name) {
  const auto it = std::find_if(params.begin(), params.end(),
                               [&](const parameter& p) { return p.name == name; });
  return it == params.end() ? nullptr : &*it;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

// RFC 5987 ext-value: charset'language'percent-encoded. Unknown charsets or broken encodings
// yield nullopt so the plain filename parameter is used instead.
std::optional<std::string> decode_ext_value(std::string_view v) {
  const std::size_t q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  const std::size_t q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  const std::string_view charset = v.substr(0, q1);
  auto decoded = percent_decode(v.substr(q2 + 1));
  if (!decoded) return std::nullopt;
  if (ascii_iequals(charset, "UTF-8")) {
    if (!valid_utf8(*decoded)) return std::nullopt;
    return decoded;
  }
  if (ascii_iequals(charset, "ISO-8859-1")) return latin1_to_utf8(*decoded);
  return std::nullopt;
}

// Browsers used to send the client's full path; only the last component is meaningful.
std::string strip_directories(std::string name) {
  const std::size_t slash = name.find_last_of("/\\");
  if (slash != std::string::npos) name.erase(0, slash + 1);
  return name;
}

void apply_content_disposition(std::string_view value, part_header& header) {
  const std::size_t semi = value.find(';');
  const auto params =
      parse_parameters(semi == std::string_view::npos ? std::string_view{} : value.substr(semi));
  if (const auto* name = find_parameter(params, "name")) header.name = name->value;
  if (const auto* ext = find_parameter(params, "filename*")) {
    if (auto decoded = decode_ext_value(ext->value)) {
      header.filename = strip_directories(std::move(*decoded));
      return;
    }
  }
  if (const auto* plain = find_parameter(params, "filename")) {
    header.filename = strip_directories(plain->value);
  }
}

struct header_field {
  std::string_view name;
  std::string value;
};

// `block` is the header lines without the terminating blank line, each line preceded by CRLF.
std::optional<std::vector<header_field>> split_header_fields(std::string_view block) {
  std::vector<header_field> fields;
  while (!block.empty()) {
    if (block.starts_with(crlf)) block.remove_prefix(crlf.size());
    const std::size_t end = std::min(block.find(crlf), block.size());
    const std::string_view line = block.substr(0, end);
    block.remove_prefix(end);
    if (line.empty()) continue;
    if (is_ows(line.front())) {  // obsolete line folding
      if (fields.empty()) return std::nullopt;
      // The fold is one space between the pieces; a line of whitespace alone adds nothing (a
      // value has no whitespace at either end: found by tests/fuzz/multipart_fuzz.cpp).
      auto& value = fields.back().value;
      const std::string_view more = trim_ows(line);
      if (!more.empty() && !value.empty()) value.push_back(' ');
      value.append(more);
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return std::nullopt;
    fields.push_back({line.substr(0, colon), std::string(trim_ows(line.substr(colon + 1)))});
  }
  return fields;
}

std::optional<part_header> parse_part_header(std::string_view block) {
  auto fields = split_header_fields(block);
  if (!fields) return std::nullopt;
  part_header header;
  bool seen_disposition = false;
  bool seen_type = false;
  for (auto& field : *fields) {
    if (!seen_disposition && ascii_iequals(field.name, "Content-Disposition")) {
      seen_disposition = true;
      apply_content_disposition(field.value, header);
    } else if (!seen_type && ascii_iequals(field.name, "Content-Type")) {
      seen_type = true;
      header.content_type = std::move(field.value);
    }
  }
  return header;
}

// Length of the longest suffix of `s` that is a proper prefix of `delim`.
std::size_t partial_match_suffix(std::string_view s, std::string_view delim) {
  const std::size_t max_len = std::min(s.size(), delim.size() - 1);
  for (std::size_t start = s.size() - max_len; start < s.size(); ++start) {
    if (s[start] == delim.front() && delim.starts_with(s.substr(start))) return s.size() - start;
  }
  return 0;
}

}  // namespace

const std::error_category& multipart_category() noexcept {
  static const multipart_error_category category;
  return category;
}

std::error_code make_error_code(multipart_errc e) noexcept {
  return {static_cast<int>(e), multipart_category()};
}

multipart_parser::multipart_parser(std::string boundary, limits lim)
    : boundary_(std::move(boundary)), limits_(lim), pending_(crlf) {
  if (!valid_boundary(boundary_)) error_ = make_error_code(multipart_errc::bad_boundary);
  boundary_.insert(0, "\r\n--");
  // The seeded CRLF in pending_ lets a body that starts directly with "--boundary" match.
}

std::error_code multipart_parser::fail(multipart_errc e) {
  error_ = make_error_code(e);
  return error_;
}

bool multipart_parser::done() const noexcept {
  return state_ == state::done;
}

std::error_code multipart_parser::finish() {
  if (error_) return error_;
  if (state_ != state::done) return fail(multipart_errc::missing_final_boundary);
  return {};
}

std::error_code multipart_parser::feed(std::string_view input, multipart_handler& handler) {
  if (error_) return error_;
  while (!input.empty() && state_ != state::done) {
    std::size_t used = 1;
    switch (state_) {
      case state::preamble:
      case state::body: {
        const bool in_body = state_ == state::body;
        const auto result = scan_for_delimiter(input, in_body ? &handler : nullptr);
        used = result.consumed;
        if (result.found) {
          if (in_body) handler.on_part_end();
          state_ = state::delimiter_end;
        }
        break;
      }
      case state::headers:
        used = step_headers(input, handler);
        break;
      default:
        step_delimiter_line(input.front());
        break;
    }
    if (error_) return error_;
    input.remove_prefix(used);
  }
  return {};
}

multipart_parser::scan_result multipart_parser::scan_for_delimiter(std::string_view input,
                                                                   multipart_handler* sink) {
  const std::string_view delim = boundary_;
  const auto emit = [sink](std::string_view data) {
    if (sink != nullptr && !data.empty()) sink->on_part_data(data);
  };

  if (!pending_.empty()) {
    // A delimiter may start inside the held-back bytes; delim.size() more input bytes are
    // enough to decide every such candidate.
    const std::size_t held = pending_.size();
    std::string window = pending_;
    window.append(input.substr(0, delim.size()));
    const std::string_view w = window;
    for (std::size_t k = 0; k < held; ++k) {
      const std::string_view rest = w.substr(k);
      if (rest.size() >= delim.size() && rest.starts_with(delim)) {
        emit(w.substr(0, k));
        pending_.clear();
        return {k + delim.size() - held, true};
      }
      if (rest.size() < delim.size() && delim.starts_with(rest)) {
        // Still ambiguous, and the window already holds all of `input`.
        emit(w.substr(0, k));
        pending_.assign(rest);
        return {input.size(), false};
      }
    }
    emit(pending_);
    pending_.clear();
  }

  const std::size_t pos = input.find(delim);
  if (pos != std::string_view::npos) {
    emit(input.substr(0, pos));
    return {pos + delim.size(), true};
  }
  const std::size_t keep = partial_match_suffix(input, delim);
  emit(input.substr(0, input.size() - keep));
  pending_.assign(input.substr(input.size() - keep));
  return {input.size(), false};
}

void multipart_parser::step_delimiter_line(char c) {
  switch (state_) {
    case state::delimiter_end:
    case state::padding:
      if (c == '-' && state_ == state::delimiter_end) {
        state_ = state::close_dash;
      } else if (is_ows(c)) {
        state_ = state::padding;
      } else if (c == '\r') {
        state_ = state::delimiter_lf;
      } else {
        fail(multipart_errc::malformed);
      }
      break;
    case state::close_dash:
      if (c == '-') {
        state_ = state::done;
      } else {
        fail(multipart_errc::malformed);
      }
      break;
    case state::delimiter_lf:
      if (c != '\n') {
        fail(multipart_errc::malformed);
      } else if (++parts_ > limits_.max_parts) {
        fail(multipart_errc::too_many_parts);
      } else {
        // Seeding CRLF makes "no headers" (an immediate blank line) end in CRLFCRLF too.
        pending_.assign(crlf);
        state_ = state::headers;
      }
      break;
    default:
      fail(multipart_errc::malformed);
      break;
  }
}

std::size_t multipart_parser::step_headers(std::string_view input, multipart_handler& handler) {
  constexpr std::string_view terminator = "\r\n\r\n";
  const std::size_t cap = limits_.max_header_bytes + crlf.size();  // + the seeded CRLF
  const std::size_t old = pending_.size();
  const std::size_t take = std::min(input.size(), cap - std::min(cap, old));
  pending_.append(input.substr(0, take));

  const std::size_t from = old >= terminator.size() - 1 ? old - (terminator.size() - 1) : 0;
  const std::size_t end = pending_.find(terminator, from);
  if (end == std::string::npos) {
    if (pending_.size() >= cap) fail(multipart_errc::header_too_large);
    return take;
  }

  auto header = parse_part_header(std::string_view(pending_).substr(0, end));
  if (!header) {
    fail(multipart_errc::malformed);
    return 0;
  }
  const std::size_t used = end + terminator.size() - old;
  pending_.clear();
  state_ = state::body;
  handler.on_part_begin(*header);
  return used;
}

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  if (!ascii_iequals(trim_ows(content_type.substr(0, semi)), "multipart/form-data"))
    return std::nullopt;
  if (semi == std::string_view::npos) return std::nullopt;
  const auto params = parse_parameters(content_type.substr(semi));
  const auto* boundary = find_parameter(params, "boundary");
  if (boundary == nullptr || !boundary->well_formed || !valid_boundary(boundary->value)) {
    return std::nullopt;
  }
  return boundary->value;
}

}  // namespace sharebox::http
