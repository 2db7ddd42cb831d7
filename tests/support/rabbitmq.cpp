#include "support/rabbitmq.hpp"

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

struct command_result {
  int status = 0;  // as from waitpid
  bool timed_out = false;
  std::string out;
  std::string err;

  bool exited_with(int code) const {
    return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == code;
  }
  std::string describe() const {
    if (timed_out) return "timed out (killed)";
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
    return "ended oddly";
  }
};

std::string command_line(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args)
    s += (s.empty() ? "" : " ") + a;
  return s;
}

// Runs `args` (argv[0] is a path) to completion with stdin from /dev/null, collecting stdout and
// stderr. The script's daemons redirect their own output, so EOF arrives when it exits.
command_result run_command(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout) {
  std::vector<std::string> owned = args;
  std::vector<char*> argv;
  for (auto& a : owned)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw_errno("pipe2");
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) throw_errno("open /dev/null");

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    // Only async-signal-safe calls until execv. The helper dies with the test (the broker it
    // daemonizes does not inherit this), and gets its own process group so a timeout can kill
    // whatever it spawned in the foreground.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD})
      ::signal(sig, SIG_DFL);
    // The broker would otherwise hold the test's sockets (Asio does not use SOCK_CLOEXEC) for
    // as long as it runs.
    if (::close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 4096; ++fd)
        ::close(fd);
    }
    ::execv(argv[0], argv.data());
    static constexpr char msg[] = "rabbitmq test harness: execv failed\n";
    [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(null_fd);

  command_result result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  const auto deadline = steady::now() + timeout;
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left <= 0ms) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    const int r = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  for (auto& p : fds)
    if (p.fd >= 0) ::close(p.fd);
  while (::waitpid(pid, &result.status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  return result;
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
    run_command({stop_script, dir_.string()}, stop_timeout);
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
    const auto r = run_command({stop_script, dir_.string()}, stop_timeout);
    if (!r.exited_with(0)) {
      std::cerr << "rabbitmq_broker: stop-rabbitmq " << r.describe() << ":\n" << r.err << "\n";
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
  const auto r = run_command(
      {start_script, "--owner-pid", std::to_string(::getpid()), dir_.string()}, start_timeout);
  const auto lines = split_lines(r.out);
  static const std::regex url_re(R"(amqp://guest:guest@127\.0\.0\.1:(\d+)/)");
  std::smatch m;
  if (!r.exited_with(0) || lines.size() != 1 || !std::regex_match(lines[0], m, url_re)) {
    throw std::runtime_error("start-rabbitmq " + dir_.string() + " " + r.describe() +
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
  const auto r = run_command({stop_script, dir_.string()}, stop_timeout);
  running_ = false;
  if (!r.exited_with(0)) {
    throw std::runtime_error("stop-rabbitmq " + dir_.string() + " " + r.describe() + ":\n" + r.err);
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
  const auto r = run_command(args, timeout + 30s);
  if (r.exited_with(0)) return split_lines(r.out);
  if (r.exited_with(consume_timed_out)) {
    // Says why (e.g. the queue never existed); the caller only sees a short vector.
    std::cerr << r.err;
    return split_lines(r.out);
  }
  throw std::runtime_error(command_line(args) + " " + r.describe() + ":\n" + r.err);
}

std::size_t queue_depth(const std::string& url, const std::string& queue) {
  auto args = pika_args(url, queue);
  args.emplace_back("--depth");
  const auto r = run_command(args, 60s);
  const auto lines = split_lines(r.out);
  if (!r.exited_with(0) || lines.size() != 1) {
    throw std::runtime_error(command_line(args) + " " + r.describe() + ":\n" + r.err);
  }
  return std::stoul(lines[0]);
}

void publish_with_pika(const std::string& url, const std::string& queue,
                       const std::vector<std::string>& bodies) {
  auto args = pika_args(url, queue);
  // --publish=BODY: argparse would take a BODY starting with '-' for an option.
  for (const auto& body : bodies)
    args.push_back("--publish=" + body);
  const auto r = run_command(args, 60s);
  if (!r.exited_with(0)) {
    throw std::runtime_error(command_line(args) + " " + r.describe() + ":\n" + r.err);
  }
}

}  // namespace sharebox::test
