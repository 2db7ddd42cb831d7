#include "support/server_process.hpp"

#include <algorithm>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <system_error>

#ifndef SHAREBOX_BINARY
#error "SHAREBOX_BINARY must be defined as the path of the sharebox executable"
#endif

namespace sharebox::test {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t max_kept_output = 1024 * 1024;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::system_category(), what);
}

// The environment for children: ours minus the server's own configuration variables
// (SHAREBOX_*, API_KEY_MAPPINGS), so the tests see only the flags they pass.
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view var(*e);
    if (var.rfind("SHAREBOX_", 0) == 0 || var.rfind("API_KEY_MAPPINGS=", 0) == 0) continue;
    env.emplace_back(var);
  }
  return env;
}

struct argv_holder {
  std::vector<std::string> args;
  std::vector<char*> ptrs;
  explicit argv_holder(std::vector<std::string> a) : args(std::move(a)) {
    for (auto& s : args)
      ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  char* const* get() { return ptrs.data(); }
};

process_exit decode_status(int status) {
  process_exit e;
  if (WIFEXITED(status)) {
    e.exited = true;
    e.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
  }
  return e;
}

std::string tail(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : "...\n" + s.substr(s.size() - n);
}

long read_status_field(pid_t pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0 && line.size() > field.size() && line[field.size()] == ':') {
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

}  // namespace

void exec_child(char* const* argv, char* const* envp, int in_fd, int out_fd, int err_fd,
                pid_t parent) {
  // The child dies with the test process (PDEATHSIG follows the forking thread; servers are
  // started from the test's main thread).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  // Own process group, so kill9() also takes down anything the child spawned.
  ::setpgid(0, 0);
  ::dup2(in_fd, STDIN_FILENO);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD})
    ::signal(sig, SIG_DFL);
  // Do not leak the test's sockets (Asio does not use SOCK_CLOEXEC) into the child.
  if (::close_range(3, ~0U, 0) != 0) {
    for (int fd = 3; fd < 4096; ++fd)
      ::close(fd);
  }
  ::execve(argv[0], argv, envp);
  static constexpr char msg[] = "sharebox test harness: execve failed\n";
  [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  ::_exit(127);
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::string process_exit::describe() const {
  if (timed_out) return "did not exit in time (killed)";
  if (exited) return "exited with status " + std::to_string(code);
  if (signal != 0) return std::string("killed by signal ") + ::strsignal(signal);
  return "unknown exit";
}

// ------------------------------------------------------------------------------------------

struct server_process::output_state {
  std::mutex mu;
  std::condition_variable cv;
  std::string text;     // stdout so far (bounded)
  std::string partial;  // incomplete last line
  std::optional<std::uint16_t> port;
  std::optional<std::string> admin_key;
  bool eof = false;

  void on_line(std::string line) {
    static const std::regex listening(R"(sharebox: listening on https?://127\.0\.0\.1:(\d+))");
    static const std::regex key(R"(sharebox: initial admin API key: (sbx_[A-Za-z0-9_-]+))");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::smatch m;
    if (!port && std::regex_search(line, m, listening)) {
      const long p = std::stol(m[1].str());
      if (p > 0 && p < 65536) port = static_cast<std::uint16_t>(p);
    } else if (!admin_key && std::regex_search(line, m, key)) {
      admin_key = m[1].str();
    }
  }

  // Drains `fd` until EOF, or until `stop` is set and nothing more is readable (a grandchild
  // holding the pipe open must not hang the test).
  void reader_loop(int fd, const std::atomic<bool>& stop) {
    char buf[4096];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      const int r = ::poll(&p, 1, 100);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        if (stop.load()) break;
        continue;
      }
      const ssize_t n = r < 0 ? -1 : ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mu);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
      if (text.size() > 2 * max_kept_output) text.erase(0, text.size() - max_kept_output);
      partial.append(buf, static_cast<std::size_t>(n));
      std::size_t pos;
      while ((pos = partial.find('\n')) != std::string::npos) {
        on_line(partial.substr(0, pos));
        partial.erase(0, pos + 1);
      }
      if (partial.size() > max_kept_output) partial.clear();
      cv.notify_all();
    }
    {
      std::lock_guard lock(mu);
      eof = true;
      cv.notify_all();
    }
    ::close(fd);
  }
};

server_process::server_process(std::vector<std::string> extra_args)
    : server_process(std::move(extra_args), fs::path()) {}

server_process::server_process(std::vector<std::string> extra_args, fs::path data_dir)
    : extra_args_(std::move(extra_args)) {
  std::string tmpl = "/tmp/sharebox-it-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw_errno("mkdtemp");
  root_ = tmpl;
  data_dir_ = data_dir.empty() ? root_ / "data" : std::move(data_dir);
  log_path_ = root_ / "server.log";
  fs::create_directories(data_dir_);
  try {
    start();
  } catch (...) {
    std::error_code ec;
    fs::remove_all(root_, ec);
    throw;
  }
}

server_process::~server_process() {
  try {
    if (!reaped_ && sanitized_server()) terminate();
    if (!reaped_) kill9();
    stop_reader();
  } catch (const std::exception& e) {
    std::cerr << "server_process: cleanup failed: " << e.what() << "\n";
  }
  expect_no_sanitizer_report(stderr_text(), "the server");
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- sharebox server diagnostics (" << root_.string() << ") ----\n"
              << diagnostics() << "---- end of server diagnostics ----\n";
  }
  if (std::getenv("SHAREBOX_TEST_KEEP_DATA") != nullptr) {
    std::cerr << "server_process: keeping " << root_.string() << "\n";
  } else {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
}

void server_process::start() {
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) throw_errno("open log / /dev/null");

  std::vector<std::string> args = {sharebox_binary(), "serve",      "--listen",
                                   "127.0.0.1:0",     "--data-dir", data_dir_.string()};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  // A test server publishes events only to a broker its test chose: never to whatever broker
  // happens to run on the machine's default port.
  const auto chosen = [&](std::string_view flag) {
    return std::find(extra_args_.begin(), extra_args_.end(), flag) != extra_args_.end();
  };
  if (!chosen("--events") && !chosen("--rabbitmq-url")) {
    args.emplace_back("--events");
    args.emplace_back("off");
  }
  argv_holder argv(std::move(args));
  argv_holder envp(child_environment());

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(argv.get(), envp.get(), null_fd, out_pipe[1], log_fd, parent);
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins the race

  ::close(out_pipe[1]);
  ::close(log_fd);
  ::close(null_fd);
  pid_ = pid;
  reaped_ = false;
  last_exit_.reset();
  if (output_) {
    previous_stdout_ += stdout_text_of(*output_) + "\n---- restart ----\n";
  }
  output_ = std::make_shared<output_state>();
  reader_stop_ = std::make_shared<std::atomic<bool>>(false);
  reader_ = std::thread(
      [state = output_, stop = reader_stop_, fd = out_pipe[0]] { state->reader_loop(fd, *stop); });

  bool ready;
  {
    std::unique_lock lock(output_->mu);
    ready = output_->cv.wait_for(lock, startup_timeout,
                                 [&] { return output_->port.has_value() || output_->eof; });
    ready = ready && output_->port.has_value();
    if (ready) {
      port_ = *output_->port;
      printed_key_on_last_start_ = output_->admin_key.has_value();
      if (output_->admin_key) admin_key_ = *output_->admin_key;
    }
  }
  if (!ready) {
    const bool exited = !running();
    if (!reaped_) kill9();
    stop_reader();
    throw std::runtime_error(
        std::string("sharebox did not print 'sharebox: listening on http[s]://127.0.0.1:PORT' ") +
        (exited ? "before exiting (" + (last_exit_ ? last_exit_->describe() : "?") + ")"
                : "within " + std::to_string(startup_timeout.count()) +
                      " s (is stdout flushed after that line?)") +
        "\n" + diagnostics());
  }
}

void server_process::stop_reader() {
  if (reader_stop_) reader_stop_->store(true);
  if (reader_.joinable()) reader_.join();
}

void server_process::record_exit(int status) {
  last_exit_ = decode_status(status);
  reaped_ = true;
}

bool server_process::running() {
  if (reaped_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    record_exit(status);
    stop_reader();
    return false;
  }
  return true;
}

void server_process::kill9() {
  if (reaped_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  record_exit(status);
  stop_reader();
}

void server_process::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

process_exit server_process::wait_exit(std::chrono::milliseconds timeout) {
  if (reaped_) return last_exit_.value_or(process_exit{});
  const auto deadline = steady::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      record_exit(status);
      stop_reader();
      return *last_exit_;
    }
    if (r < 0 && errno != EINTR) throw_errno("waitpid");
    if (steady::now() >= deadline) break;
    std::this_thread::sleep_for(5ms);
  }
  kill9();
  process_exit e = *last_exit_;
  e.timed_out = true;
  last_exit_ = e;
  return e;
}

process_exit server_process::terminate(std::chrono::milliseconds timeout) {
  signal(SIGTERM);
  return wait_exit(timeout);
}

void server_process::restart() {
  if (!reaped_) {
    const process_exit e = terminate();
    if (e.timed_out) throw std::runtime_error("restart: server did not stop on SIGTERM");
  }
  stop_reader();
  start();
}

long server_process::peak_rss_kib() const {
  return reaped_ ? -1 : read_status_field(pid_, "VmHWM");
}

long server_process::rss_kib() const {
  return reaped_ ? -1 : read_status_field(pid_, "VmRSS");
}

std::string server_process::add_user(const std::string& name) {
  const cli_result r = run_cli({"user", "add", name, "--data-dir", data_dir_.string()});
  if (!r.exit.clean()) {
    throw std::runtime_error("sharebox user add " + name + " " + r.exit.describe() +
                             "\nstdout: " + r.out + "\nstderr: " + r.err);
  }
  return trim(r.out);
}

cli_result run_program(const std::vector<std::string>& program, std::chrono::milliseconds timeout,
                       std::optional<std::vector<std::string>> env) {
  if (!env) {
    env.emplace();
    for (char** e = environ; *e != nullptr; ++e)
      env->emplace_back(*e);
  }
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) throw_errno("open /dev/null");
  argv_holder argv(program);
  argv_holder envp(std::move(*env));

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(argv.get(), envp.get(), null_fd, out_pipe[1], err_pipe[1], parent);
  ::setpgid(pid, pid);  // also in the child: whichever runs first, the group exists
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(null_fd);

  cli_result result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  const auto deadline = steady::now() + timeout;
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    const int r = ::poll(fds, 2, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno("poll");
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[8192];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  if (timed_out) ::kill(-pid, SIGKILL);  // the whole group: whatever it ran in the foreground
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  result.exit = decode_status(status);
  result.exit.timed_out = timed_out;
  expect_no_sanitizer_report(result.err, program.front());
  return result;
}

const std::string& sharebox_binary() {
  static const std::string path = [] {
    const char* chosen = std::getenv("SHAREBOX_TEST_SERVER");
    return std::string(chosen != nullptr && *chosen != '\0' ? chosen : SHAREBOX_BINARY);
  }();
  return path;
}

bool sanitized_server() {
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SHAREBOX_TESTS_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(SHAREBOX_TESTS_SANITIZED)
  return true;  // the tests and the server share their flags (unless told otherwise)
#else
  // The sanitizer runtimes export their entry points: the names are in .dynstr, within the
  // executable's first few hundred KiB.
  static const bool sanitized = [] {
    std::ifstream in(sharebox_binary(), std::ios::binary);
    std::string head(1 << 20, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    return head.find("__asan_init") != std::string::npos ||
           head.find("__tsan_init") != std::string::npos;
  }();
  return sanitized;
#endif
}

void expect_no_sanitizer_report(std::string_view output, std::string_view who) {
  // Every sanitizer ends its report with such a summary line (UBSan's too, with the default
  // print_summary=1); they are not words a sharebox log line would contain.
  static constexpr std::string_view markers[] = {
      "SUMMARY: AddressSanitizer", "SUMMARY: LeakSanitizer", "SUMMARY: ThreadSanitizer",
      "SUMMARY: UndefinedBehaviorSanitizer"};
  for (const auto marker : markers) {
    const auto at = output.find(marker);
    if (at == std::string_view::npos) continue;
    const auto from = at > 8000 ? at - 8000 : 0;
    ADD_FAILURE() << who << " printed a sanitizer report:\n"
                  << output.substr(from, at - from + 400);
    return;
  }
}

cli_result server_process::run_cli(const std::vector<std::string>& args,
                                   std::chrono::milliseconds timeout) const {
  std::vector<std::string> full = {sharebox_binary()};
  full.insert(full.end(), args.begin(), args.end());
  return run_program(full, timeout, child_environment());
}

std::string server_process::stdout_text_of(output_state& state) {
  std::lock_guard lock(state.mu);
  return state.text;
}

std::string server_process::stdout_text() const {
  return output_ ? previous_stdout_ + stdout_text_of(*output_) : previous_stdout_;
}

std::string server_process::stderr_text() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

std::string server_process::diagnostics() const {
  constexpr std::size_t max_shown = 16 * 1024;
  std::string out = "data dir: " + data_dir_.string() + "\n";
  if (last_exit_) out += "server " + last_exit_->describe() + "\n";
  out += "-- stdout --\n" + tail(stdout_text(), max_shown) + "\n";
  out += "-- stderr (" + log_path_.string() + ") --\n" + tail(stderr_text(), max_shown) + "\n";
  return out;
}

}  // namespace sharebox::test
