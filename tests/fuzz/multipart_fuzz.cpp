// multipart/form-data (src/http/multipart.cpp): the boundary from a Content-Type, then the body.
// Input: the Content-Type value on the first line, the body after it.
//
// Properties:
//  - the streaming parser gives the same parts, bytes and errors however the body is split
//    (whole, in pieces at points drawn from the input, byte by byte);
//  - events come in order (begin, data..., end), data is never empty, and no part's content holds
//    the delimiter;
//  - after an error every feed() and finish() fails with that error;
//  - a boundary multipart_boundary() accepts comes back unchanged from a quoted rendering;
//  - a body that parsed completely, written out again from its parts, parses to the same parts.
#include <algorithm>

#include "fuzz_support.hpp"
#include "sharebox/http/multipart.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;
using sharebox::fuzz::input_random;

struct recorded_part {
  http::part_header header;
  std::string data;
  bool ended = false;
  bool operator==(const recorded_part& o) const {
    return header.name == o.header.name && header.filename == o.header.filename &&
           header.content_type == o.header.content_type && data == o.data && ended == o.ended;
  }
};

class recorder final : public http::multipart_handler {
 public:
  void on_part_begin(const http::part_header& h) override {
    FUZZ_CHECK(parts.empty() || parts.back().ended);
    parts.push_back({h, {}, false});
  }
  void on_part_data(std::string_view data) override {
    FUZZ_CHECK(!parts.empty() && !parts.back().ended);
    FUZZ_CHECK(!data.empty());
    parts.back().data.append(data);
  }
  void on_part_end() override {
    FUZZ_CHECK(!parts.empty() && !parts.back().ended);
    parts.back().ended = true;
  }
  std::vector<recorded_part> parts;
};

struct outcome {
  std::vector<recorded_part> parts;
  std::error_code error;  // the first feed() error, else finish()'s
  bool operator==(const outcome&) const = default;
};

// Feeds `body` in the pieces that `cuts` (sorted offsets) delimit.
outcome parse(const std::string& boundary, std::string_view body,
              const std::vector<std::size_t>& cuts,
              http::multipart_parser::limits lim = http::multipart_parser::limits{}) {
  http::multipart_parser parser(boundary, lim);
  recorder rec;
  outcome out;
  std::size_t from = 0;
  auto feed_to = [&](std::size_t to) {
    if (out.error || to <= from) return;
    out.error = parser.feed(body.substr(from, to - from), rec);
    from = to;
  };
  for (const std::size_t cut : cuts)
    feed_to(cut);
  feed_to(body.size());
  if (!out.error) {
    out.error = parser.finish();
    FUZZ_CHECK(!out.error == parser.done());
  } else {
    // Sticky: the error is reported again, and nothing more reaches the handler.
    const auto count = rec.parts.size();
    FUZZ_CHECK(parser.feed("\r\n--x\r\n\r\n", rec) == out.error);
    FUZZ_CHECK(parser.finish() == out.error);
    FUZZ_CHECK(rec.parts.size() == count);
  }
  out.parts = std::move(rec.parts);
  return out;
}

bool is_plain(char c) {
  return c != '"' && c != '\\' && c != '\r' && c != '\n';
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// The parts written out as a body again. A filename that only filename* could carry (it holds a
// CRLF, which only percent-decoding makes) goes there, percent-encoded; names and filenames
// otherwise as quoted strings (a lone CR or LF is plain text inside a header line).
std::string serialize(const std::string& boundary, const std::vector<recorded_part>& parts) {
  std::string body;
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=" + quoted(p.header.name);
    if (p.header.filename) {
      const auto& f = *p.header.filename;
      if (f.find("\r\n") == std::string::npos) {
        body += "; filename=" + quoted(f);
      } else {
        body += "; filename*=UTF-8''" + util::url_encode(f);
      }
    }
    body += "\r\n";
    if (!p.header.content_type.empty()) body += "Content-Type: " + p.header.content_type + "\r\n";
    body += "\r\n" + p.data + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [content_type, body] = fuzz::first_line(fuzz::as_text(data, size));

  const auto boundary = http::multipart_boundary(content_type);
  if (boundary) {
    FUZZ_CHECK(!boundary->empty() && boundary->size() <= 70 && boundary->back() != ' ');
    FUZZ_CHECK(std::all_of(boundary->begin(), boundary->end(), is_plain));
    const auto again =
        http::multipart_boundary("multipart/form-data; boundary=" + quoted(*boundary));
    FUZZ_CHECK(again == boundary);
  }
  // Without a valid boundary the parser is still driven, with the line as its boundary: it must
  // refuse it (bad_boundary) or, if it is a valid boundary after all, parse.
  const std::string b = boundary.value_or(std::string(content_type));

  input_random rnd(fuzz::as_text(data, size));
  std::vector<std::size_t> cuts;
  if (!body.empty()) {
    const std::size_t pieces = 1 + rnd.below(16);
    for (std::size_t i = 0; i < pieces; ++i)
      cuts.push_back(rnd.below(body.size()));
    std::sort(cuts.begin(), cuts.end());
  }
  const outcome whole = parse(b, body, {});
  const outcome split = parse(b, body, cuts);
  FUZZ_CHECK(whole == split);
  if (body.size() <= 4096) {
    std::vector<std::size_t> every(body.size());
    for (std::size_t i = 0; i < every.size(); ++i)
      every[i] = i;
    FUZZ_CHECK(parse(b, body, every) == whole);
  }

  const std::string delimiter = "\r\n--" + b;
  for (const auto& p : whole.parts) {
    FUZZ_CHECK(p.data.find(delimiter) == std::string::npos);
  }

  if (!whole.error) {
    // Escaping and percent-encoding may make a header block up to three times longer.
    http::multipart_parser::limits roomy;
    roomy.max_header_bytes = 4 * roomy.max_header_bytes;
    const outcome again = parse(b, serialize(b, whole.parts), {}, roomy);
    FUZZ_CHECK(!again.error);
    FUZZ_CHECK(again.parts == whole.parts);
  }
  return 0;
}
