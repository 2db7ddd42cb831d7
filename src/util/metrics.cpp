#include "sharebox/util/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace sharebox::util::metrics {

bucket_layout::bucket_layout(std::vector<double> bounds, double unit)
    : bounds_(std::move(bounds)), per_base_(1 / unit) {
  if (!(unit > 0) || !std::isfinite(per_base_)) {
    throw std::invalid_argument("histogram unit must be positive");
  }
  if (std::fabs(per_base_ - std::round(per_base_)) < 1e-6) per_base_ = std::round(per_base_);
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || bounds_[i] < 0 || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      throw std::invalid_argument("histogram bounds must be finite, positive and ascending");
    }
    limits_.push_back(static_cast<std::uint64_t>(std::llround(bounds_[i] * per_base_)));
  }
}

const bucket_layout& duration_buckets() {
  // 0.1 ms (a small download served from memory) to 60 s (a large transfer or a write timeout).
  static const bucket_layout layout({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
                                    1e-9);
  return layout;
}

histogram::histogram(const bucket_layout& layout)
    : layout_(layout),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(layout.bounds().size() + 1)) {}

histogram::snapshot histogram::read() const {
  snapshot s;
  const std::size_t n = layout_.bounds().size() + 1;
  s.cumulative.resize(n);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < n; ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = layout_.to_base(sum_.load(std::memory_order_relaxed));
  return s;
}

namespace {

template <typename Int>
std::string format_int(Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers of a sane size as integers (a byte count held in a double reads "1024", not
  // "1.024e+03"); everything else the shortest text that reads back as the same double, in the
  // style of %g, as Go's client writes `le` bounds ("0.0001", "2.5").
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    return format_int(static_cast<std::int64_t>(v));
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return std::string(buf, r.ptr);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, colon)) return false;
  }
  return true;
}

}  // namespace

bool valid_metric_name(std::string_view name) noexcept {
  return valid_name(name, true);
}

bool valid_label_name(std::string_view name) noexcept {
  return valid_name(name, false);
}

void text_writer::family(std::string_view name, std::string_view type, std::string_view help) {
  pending_.clear();
  pending_.append("# HELP ").append(name).append(" ").append(escape_help(help)).append("\n");
  pending_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void text_writer::begin_sample(std::string_view name, const labels& l, std::string_view le) {
  if (!pending_.empty()) {
    out_ += pending_;
    pending_.clear();
  }
  out_.append(name);
  if (l.empty() && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first) out_ += ',';
    first = false;
    out_.append(k).append("=\"").append(escape_label_value(v)).append("\"");
  }
  if (!le.empty()) {
    if (!first) out_ += ',';
    out_.append("le=\"").append(le).append("\"");
  }
  out_ += '}';
}

void text_writer::end_sample(std::string_view value) {
  out_ += ' ';
  out_.append(value);
  out_ += '\n';
}

void text_writer::sample(std::string_view name, const labels& l, std::uint64_t v) {
  begin_sample(name, l);
  end_sample(format_int(v));
}

void text_writer::sample(std::string_view name, const labels& l, std::int64_t v) {
  begin_sample(name, l);
  end_sample(format_int(v));
}

void text_writer::sample(std::string_view name, const labels& l, double v) {
  begin_sample(name, l);
  end_sample(format_value(v));
}

void text_writer::histogram(std::string_view name, const labels& l, const metrics::histogram& h) {
  const auto s = h.read();
  const auto& bounds = h.layout().bounds();
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
    const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    begin_sample(bucket, l, le);
    end_sample(format_int(s.cumulative[i]));
  }
  sample(std::string(name) + "_sum", l, s.sum);
  sample(std::string(name) + "_count", l, s.count());
}

registry::series& registry::add_series(std::string name, std::string_view type, std::string help,
                                       labels l) {
  if (!valid_metric_name(name)) throw std::logic_error("invalid metric name: " + name);
  for (const auto& [k, v] : l) {
    if (!valid_label_name(k) || k.starts_with("__") || (type == "histogram" && k == "le")) {
      throw std::logic_error("invalid label name " + k + " on " + name);
    }
  }
  std::lock_guard lock(mutex_);
  family* fam = nullptr;
  for (auto& e : entries_) {
    if (e.fam && e.fam->name == name) fam = e.fam.get();
  }
  if (!fam) {
    entries_.push_back({std::make_unique<family>(family{name, std::string(type), help, {}}), {}});
    fam = entries_.back().fam.get();
  } else if (fam->type != type || fam->help != help) {
    throw std::logic_error("metric " + name + " registered again with another type or help");
  }
  for (const auto& s : fam->members) {
    if (s.label_set == l) throw std::logic_error("metric " + name + " has this label set already");
  }
  fam->members.push_back(series{std::move(l), nullptr, nullptr, nullptr});
  return fam->members.back();
}

counter& registry::add_counter(std::string name, std::string help, labels l) {
  auto& s = add_series(std::move(name), "counter", std::move(help), std::move(l));
  s.c = std::make_unique<counter>();
  return *s.c;
}

gauge& registry::add_gauge(std::string name, std::string help, labels l) {
  auto& s = add_series(std::move(name), "gauge", std::move(help), std::move(l));
  s.g = std::make_unique<gauge>();
  return *s.g;
}

histogram& registry::add_histogram(std::string name, std::string help, const bucket_layout& layout,
                                   labels l) {
  auto& s = add_series(std::move(name), "histogram", std::move(help), std::move(l));
  s.h = std::make_unique<metrics::histogram>(layout);
  return *s.h;
}

void registry::add_collector(std::function<void(text_writer&)> fn) {
  std::lock_guard lock(mutex_);
  entries_.push_back({nullptr, std::move(fn)});
}

std::string registry::render() const {
  std::string out;
  text_writer w(out);
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    if (e.collect) {
      e.collect(w);
      continue;
    }
    const auto& f = *e.fam;
    w.family(f.name, f.type, f.help);
    for (const auto& s : f.members) {
      if (s.c) w.sample(f.name, s.label_set, s.c->value());
      if (s.g) w.sample(f.name, s.label_set, s.g->value());
      if (s.h) w.histogram(f.name, s.label_set, *s.h);
    }
  }
  return out;
}

namespace {

struct process_stat {
  double cpu_seconds = 0;
  double start_time = 0;  // seconds since the epoch
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

std::optional<process_stat> read_process_stat() {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: fields count from after
  // its closing parenthesis, which starts with field 3 (state).
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(rest), {}};
  if (f.size() < 22) return std::nullopt;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  // Field n is at f[n - 3]: utime 14, stime 15, starttime 22, vsize 23, rss 24.
  process_stat s;
  s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  s.virtual_bytes = std::stod(f[20]);
  s.resident_bytes = std::stod(f[21]) * page;
  std::ifstream kernel("/proc/stat");
  for (std::string l; std::getline(kernel, l);) {
    if (l.starts_with("btime ")) {
      s.start_time = std::stod(l.substr(6)) + std::stod(f[19]) / ticks;
      break;
    }
  }
  return s;
}

std::int64_t open_descriptors() {
  std::error_code ec;
  std::int64_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n;
}

}  // namespace

void add_process_metrics(registry& r) {
  r.add_collector([](text_writer& w) {
    if (const auto s = read_process_stat()) {
      w.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, seconds.");
      w.sample("process_cpu_seconds_total", {}, s->cpu_seconds);
      w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
      w.sample("process_resident_memory_bytes", {}, s->resident_bytes);
      w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
      w.sample("process_virtual_memory_bytes", {}, s->virtual_bytes);
      if (s->start_time > 0) {
        w.family("process_start_time_seconds", "gauge",
                 "Start time of the process since the Unix epoch, seconds.");
        w.sample("process_start_time_seconds", {}, s->start_time);
      }
    }
    w.family("process_open_fds", "gauge", "Open file descriptors.");
    w.sample("process_open_fds", {}, open_descriptors());
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
      w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
      w.sample("process_max_fds", {}, static_cast<std::int64_t>(lim.rlim_cur));
    }
  });
}

}  // namespace sharebox::util::metrics
