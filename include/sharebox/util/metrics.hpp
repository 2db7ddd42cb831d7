#pragma once
// Metrics in the Prometheus text exposition format (version 0.0.4), without a client library:
// counters, gauges and fixed-bucket histograms, and a registry that renders them together with
// figures their owners compute at scrape time.
//
// Updates are relaxed atomic additions: a scrape needs no ordering with anything else, and on
// the request path an update must cost no more than one uncontended instruction (no lock, no
// lookup). Series are registered up front; whatever needs many label values (a route times a
// status) keeps its own table of these primitives and writes it through a collector.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sharebox::util::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class gauge {
 public:
  void inc(std::int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void dec(std::int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Holds a gauge up by one while it lives (something in progress); movable, so it can travel
// with the thing it counts.
class gauge_hold {
 public:
  gauge_hold() = default;
  explicit gauge_hold(gauge& g) noexcept : gauge_(&g) { g.inc(); }
  gauge_hold(gauge_hold&& o) noexcept : gauge_(std::exchange(o.gauge_, nullptr)) {}
  gauge_hold& operator=(gauge_hold&& o) noexcept {
    if (this != &o) {
      release();
      gauge_ = std::exchange(o.gauge_, nullptr);
    }
    return *this;
  }
  gauge_hold(const gauge_hold&) = delete;
  gauge_hold& operator=(const gauge_hold&) = delete;
  ~gauge_hold() { release(); }
  void release() noexcept {
    if (gauge_) std::exchange(gauge_, nullptr)->dec();
  }

 private:
  gauge* gauge_ = nullptr;
};

// A histogram's bucket bounds, shared by every histogram of a family. Observations are integers
// of `unit` (for durations: nanoseconds, unit 1e-9), so that one observation is a short compare
// loop and two integer additions; bounds and the sum are exposed in the base unit (seconds).
class bucket_layout {
 public:
  // `bounds`: ascending, finite upper bounds in the base unit; +Inf is implied.
  bucket_layout(std::vector<double> bounds, double unit);

  // The bucket an observation falls in: the first whose bound is >= v (bounds are inclusive,
  // as Prometheus' `le` says), or bounds().size() for +Inf.
  std::size_t index_of(std::uint64_t v) const noexcept {
    std::size_t i = 0;
    while (i < limits_.size() && v > limits_[i])
      ++i;
    return i;
  }
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  // `units` in the base unit: divided by a whole number of units per base unit where there is
  // one (1e9 ns per second), which is exact where multiplying by 1e-9 leaves ...0000003 tails.
  double to_base(std::uint64_t units) const noexcept {
    return static_cast<double>(units) / per_base_;
  }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> limits_;  // bounds in units
  double per_base_;                    // units per base unit
};

// Durations from 0.1 ms to 60 s (request latency, commit time), in nanoseconds.
const bucket_layout& duration_buckets();

class histogram {
 public:
  explicit histogram(const bucket_layout& layout);

  void observe(std::uint64_t v) noexcept {
    buckets_[layout_.index_of(v)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }

  struct snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== the count)
    double sum = 0;                         // in the base unit
    std::uint64_t count() const noexcept { return cumulative.empty() ? 0 : cumulative.back(); }
  };
  // Buckets are read one by one, so a scrape racing observations may see the sum a little ahead
  // or behind the buckets; the buckets themselves are always cumulative and end at the count.
  snapshot read() const;
  const bucket_layout& layout() const noexcept { return layout_; }

 private:
  const bucket_layout& layout_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> sum_{0};
};

// Writes the text format. A family's HELP and TYPE lines are written with its first sample, so a
// family with no samples (yet) leaves no trace; samples of one family must follow each other.
class text_writer {
 public:
  explicit text_writer(std::string& out) : out_(out) {}

  // Starts a family: `type` is "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const labels& l, std::uint64_t v);
  void sample(std::string_view name, const labels& l, std::int64_t v);
  void sample(std::string_view name, const labels& l, double v);
  // NAME_bucket{...,le="..."} (cumulative, +Inf last), NAME_sum and NAME_count.
  void histogram(std::string_view name, const labels& l, const metrics::histogram& h);

 private:
  void begin_sample(std::string_view name, const labels& l, std::string_view le = {});
  void end_sample(std::string_view value);

  std::string& out_;
  std::string pending_;  // HELP and TYPE of the family started last, until its first sample
};

// A label value or HELP text as the text format escapes it (backslash, newline and, in label
// values, the double quote).
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value or `le` bound: integers without a fraction, +Inf, -Inf, NaN, otherwise the
// shortest text that reads back as the same double (0.0001, 2.5, 1.7e+09).
std::string format_value(double v);

// Metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]* (labels without ':').
bool valid_metric_name(std::string_view name) noexcept;
bool valid_label_name(std::string_view name) noexcept;

class registry {
 public:
  // Series are created at start; a second series of a family (same name, other labels) is
  // added to it. The references stay valid for the registry's life. Throws std::logic_error
  // for an invalid name, a family registered again with another type or help, or a duplicate
  // label set.
  counter& add_counter(std::string name, std::string help, labels l = {});
  gauge& add_gauge(std::string name, std::string help, labels l = {});
  // The first histogram of a family fixes its buckets.
  histogram& add_histogram(std::string name, std::string help, const bucket_layout& layout,
                           labels l = {});
  // Families computed at scrape time (another component's figures, a database count, a table of
  // series by route and status). `fn` writes whole families, HELP and TYPE included; it runs on
  // the scraping thread, in registration order with the other families.
  void add_collector(std::function<void(text_writer&)> fn);

  // Every family in the text format. Runs the collectors: call it where blocking is allowed.
  std::string render() const;

 private:
  struct series {
    labels label_set;
    std::unique_ptr<counter> c;
    std::unique_ptr<gauge> g;
    std::unique_ptr<metrics::histogram> h;
  };
  struct family {
    std::string name;
    std::string type;
    std::string help;
    std::vector<series> members;
  };
  struct entry {
    std::unique_ptr<family> fam;
    std::function<void(text_writer&)> collect;
  };
  series& add_series(std::string name, std::string_view type, std::string help, labels l);

  mutable std::mutex mutex_;  // registration (at start) against scrapes
  std::vector<entry> entries_;
};

// The standard process_* families from /proc/self (Linux): CPU seconds, resident and virtual
// memory, open and maximum descriptors, start time.
void add_process_metrics(registry& r);

}  // namespace sharebox::util::metrics
