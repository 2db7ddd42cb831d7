#include "support/rabbitmq.hpp"

#include "support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <system_error>

#ifndef SHAREBOX_SOURCE_DIR
#error "SHAREBOX_SOURCE_DIR must be defined as the path of the sharebox source tree"
#endif

namespace sharebox::test {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr const char* start_script = SHAREBOX_SOURCE_DIR "/scripts/start-rabbitmq";
constexpr const char* stop_script = SHAREBOX_SOURCE_DIR "/scripts/stop-rabbitmq";
constexpr const char* consume_script = SHAREBOX_SOURCE_DIR "/tests/support/consume.py";
// Debian's interpreter, where python3-pika lives (not whatever python3 is first on PATH).
constexpr const char* python = "/usr/bin/python3";

// consume.py's exit status when fewer messages than asked for arrived in time.
constexpr int consume_timed_out = 2;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::system_category(), what);
}

bool exited_with(const cli_result& r, int code) {
  return !r.exit.timed_out && r.exit.exited && r.exit.code == code;
}

std::string command_line(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args)
    s += (s.empty() ? "" : " ") + a;
  return s;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string tail_of_file(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  const std::size_t from = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(size - from, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return (from > 0 ? "...\n" : "") + text;
}

std::vector<std::string> pika_args(const std::string& url, const std::string& queue) {
  return {python, consume_script, "--url", url, "--queue", queue};
}

}  // namespace

// ------------------------------------------------------------------------------------------

rabbitmq_broker::rabbitmq_broker() {
  std::string tmpl = (fs::temp_directory_path() / "sharebox-rabbitmq-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw_errno("mkdtemp");
  dir_ = tmpl;
  try {
    run_start();
  } catch (...) {
    // The script cleans up its own failed start; this only catches what it could not.
    run_program({stop_script, dir_.string()}, stop_timeout);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

rabbitmq_broker::~rabbitmq_broker() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- rabbitmq broker log (" << dir_.string() << ") ----\n"
              << log_tail() << "\n---- end of rabbitmq broker log ----\n";
  }
  try {
    // Even when not running_: a start that failed half-way may have left processes behind.
    const auto r = run_program({stop_script, dir_.string()}, stop_timeout);
    if (!exited_with(r, 0)) {
      std::cerr << "rabbitmq_broker: stop-rabbitmq " << r.exit.describe() << ":\n" << r.err << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "rabbitmq_broker: cleanup failed: " << e.what() << "\n";
  }
  if (std::getenv("SHAREBOX_TEST_KEEP_DATA") != nullptr) {
    std::cerr << "rabbitmq_broker: keeping " << dir_.string() << "\n";
  } else {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void rabbitmq_broker::run_start() {
  const auto r = run_program(
      {start_script, "--owner-pid", std::to_string(::getpid()), dir_.string()}, start_timeout);
  const auto lines = split_lines(r.out);
  static const std::regex url_re(R"(amqp://guest:guest@127\.0\.0\.1:(\d+)/)");
  std::smatch m;
  if (!exited_with(r, 0) || lines.size() != 1 || !std::regex_match(lines[0], m, url_re)) {
    throw std::runtime_error("start-rabbitmq " + dir_.string() + " " + r.exit.describe() +
                             "; stdout:\n" + r.out + "\nstderr:\n" + r.err);
  }
  running_ = true;
  if (!url_.empty() && lines[0] != url_) {
    // Clients holding the old URL would silently talk to nothing.
    throw std::runtime_error("start-rabbitmq came back on " + lines[0] + " instead of " + url_);
  }
  url_ = lines[0];
  port_ = static_cast<std::uint16_t>(std::stoul(m[1].str()));
}

void rabbitmq_broker::start() {
  if (running_) return;
  run_start();
}

void rabbitmq_broker::stop() {
  const auto r = run_program({stop_script, dir_.string()}, stop_timeout);
  running_ = false;
  if (!exited_with(r, 0)) {
    throw std::runtime_error("stop-rabbitmq " + dir_.string() + " " + r.exit.describe() + ":\n" +
                             r.err);
  }
}

std::string rabbitmq_broker::log_tail(std::size_t max_bytes) const {
  std::string text;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ / "log", ec)) {
    const auto name = entry.path().filename().string();
    // The node's main log is NODE.log; NODE_upgrade.log is always empty.
    if (name.ends_with(".log") && !name.ends_with("_upgrade.log") && name != "startup.log" &&
        name != "epmd.log" && name != "watcher.log") {
      text += tail_of_file(entry.path(), max_bytes);
    }
  }
  return text.empty() ? "(no broker log in " + (dir_ / "log").string() + ")" : text;
}

// ------------------------------------------------------------------------------------------

std::vector<std::string> consume_with_pika(const std::string& url, const std::string& queue,
                                           std::size_t count, std::chrono::seconds timeout) {
  auto args = pika_args(url, queue);
  args.insert(args.end(),
              {"--count", std::to_string(count), "--timeout", std::to_string(timeout.count())});
  // Margin for the interpreter start and a connection attempt in flight at the deadline.
  const auto r = run_program(args, timeout + 30s);
  if (exited_with(r, 0)) return split_lines(r.out);
  if (exited_with(r, consume_timed_out)) {
    // Says why (e.g. the queue never existed); the caller only sees a short vector.
    std::cerr << r.err;
    return split_lines(r.out);
  }
  throw std::runtime_error(command_line(args) + " " + r.exit.describe() + ":\n" + r.err);
}

std::vector<std::string> drain_with_pika(const std::string& url,
                                         const std::vector<std::string>& queues,
                                         std::chrono::seconds timeout) {
  std::vector<std::string> args = {python,
                                   consume_script,
                                   "--url",
                                   url,
                                   "--drain",
                                   "--timeout",
                                   std::to_string(timeout.count())};
  for (const auto& q : queues) {
    args.emplace_back("--queue");
    args.push_back(q);
  }
  const auto r = run_program(args, timeout + 30s);
  if (!exited_with(r, 0)) {
    throw std::runtime_error(command_line(args) + " " + r.exit.describe() + ":\n" + r.err);
  }
  return split_lines(r.out);
}

std::size_t queue_depth(const std::string& url, const std::string& queue) {
  auto args = pika_args(url, queue);
  args.emplace_back("--depth");
  const auto r = run_program(args, 60s);
  const auto lines = split_lines(r.out);
  if (!exited_with(r, 0) || lines.size() != 1) {
    throw std::runtime_error(command_line(args) + " " + r.exit.describe() + ":\n" + r.err);
  }
  return std::stoul(lines[0]);
}

void publish_with_pika(const std::string& url, const std::string& queue,
                       const std::vector<std::string>& bodies) {
  auto args = pika_args(url, queue);
  // --publish=BODY: argparse would take a BODY starting with '-' for an option.
  for (const auto& body : bodies)
    args.push_back("--publish=" + body);
  const auto r = run_program(args, 60s);
  if (!exited_with(r, 0)) {
    throw std::runtime_error(command_line(args) + " " + r.exit.describe() + ":\n" + r.err);
  }
}

}  // namespace sharebox::test
