#include "kubelet/runtime/containerd_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "kubelet/cri/cri_client.h"

namespace switchyard::kubelet::runtime {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

// True once the process behind pidfd has exited (it stays a zombie until reaped).
bool wait_exited(int pidfd, std::chrono::milliseconds timeout) {
  pollfd pfd{pidfd, POLLIN, 0};
  int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  return ready > 0;
}

std::string log_tail(const std::filesystem::path& log) {
  constexpr std::streamoff kTail = 1500;  // the log of a long-running containerd is large
  std::ifstream in(log, std::ios::binary | std::ios::ate);
  std::streamoff size = in.tellg();
  if (size <= 0) return "";
  in.seekg(std::max<std::streamoff>(0, size - kTail));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A containerd still running on our config: left behind when the process that supervised it was
// killed with SIGKILL (nothing could stop it). Two on one root cannot run, so it is stopped,
// SIGTERM then SIGKILL; the pods keep running in their shims and the new containerd adopts them.
void stop_orphaned_containerd(const std::string& config) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    // libstdc++'s filebuf throws when read() fails, as it does (ESRCH) for a process that exits
    // while its cmdline is read: such a process is no containerd of ours.
    std::string cmdline;
    try {
      std::ifstream in(entry.path() / "cmdline", std::ios::binary);
      cmdline.assign(std::istreambuf_iterator<char>(in), {});
    } catch (const std::ios_base::failure&) {
      continue;
    }
    std::vector<std::string> args;
    for (std::size_t start = 0; start < cmdline.size();) {
      auto end = cmdline.find('\0', start);
      if (end == std::string::npos) end = cmdline.size();
      args.push_back(cmdline.substr(start, end - start));
      start = end + 1;
    }
    if (args.size() != 3 || args[1] != "--config" || args[2] != config) continue;
    const pid_t pid = std::stoi(name);
    spdlog::warn("event=orphaned_containerd_stopped pid={} config={}", pid, config);
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
    for (int i = 0; i < 50 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

ContainerdSupervisor::ContainerdSupervisor(ContainerdOptions options) : options_(std::move(options)), paths_(options_.data_dir) {}

Result<std::unique_ptr<ContainerdSupervisor>> ContainerdSupervisor::start(ContainerdOptions options) {
  if (::access(options.containerd_binary.c_str(), X_OK) != 0)
    return fail(ErrorCode::NotFound, options.containerd_binary + " is not installed (Debian package containerd)");
  if (auto r = write_containerd_files(options); !r) return fail(r.error());
  auto supervisor = std::unique_ptr<ContainerdSupervisor>(new ContainerdSupervisor(std::move(options)));
  stop_orphaned_containerd(supervisor->paths_.config.string());
  {
    std::lock_guard lock(supervisor->mutex_);
    if (auto r = supervisor->spawn(); !r) return fail(r.error());
  }
  if (auto r = supervisor->wait_ready(supervisor->options_.ready_timeout); !r) {
    supervisor->stop(std::chrono::seconds(2));
    return fail(r.error());
  }
  supervisor->supervisor_ = std::thread([s = supervisor.get()] { s->supervise(); });
  return supervisor;
}

ContainerdSupervisor::~ContainerdSupervisor() { stop(); }

pid_t ContainerdSupervisor::pid() const {
  std::lock_guard lock(mutex_);
  return pid_;
}

Result<> ContainerdSupervisor::spawn() {
  std::string binary = options_.containerd_binary;
  std::string config = paths_.config.string();
  std::vector<char*> argv{binary.data(), const_cast<char*>("--config"), config.data(), nullptr};
  int netns = -1;
  if (!options_.netns_path.empty()) {
    netns = ::open(options_.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns < 0) return fail(ErrorCode::NotFound, "network namespace " + options_.netns_path + ": " + std::strerror(errno));
  }
  int log = ::open(paths_.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log < 0) {
    if (netns >= 0) ::close(netns);
    return fail(ErrorCode::Internal, "opening " + paths_.log.string() + ": " + std::strerror(errno));
  }
  // No PR_SET_PDEATHSIG: it fires when the forking *thread* ends, and restarts fork from the
  // supervision thread. Only async-signal-safe calls between fork and exec.
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    if (netns >= 0) ::close(netns);
    return fail(ErrorCode::Internal, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Entering the namespace here (as `nsenter --net` would) keeps the host's mounts, unlike
    // `ip netns exec`, which remounts /sys.
    if (netns >= 0 && ::setns(netns, CLONE_NEWNET) != 0) ::_exit(126);
    sigset_t none;  // a parent that blocks SIGTERM to sigwait() for it (up) must not pass that on
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setsid();  // its own process group: a terminal's ^C goes to us, and we stop it in order
    ::dup2(log, 1);
    ::dup2(log, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    // Nothing else of ours: asio opens its sockets without CLOEXEC, and a listening socket kept by
    // containerd (and by the shims it forks, which outlive us) keeps `up` from listening again.
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);
  if (netns >= 0) ::close(netns);
  int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return fail(ErrorCode::Internal, std::string("pidfd_open: ") + std::strerror(errno));
  }
  pid_ = pid;
  pidfd_ = pidfd;
  started_ = std::chrono::steady_clock::now();
  spdlog::info("containerd started pid={} socket={} netns={}", pid, paths_.socket.string(),
               options_.netns_path.empty() ? "-" : options_.netns_path);
  return {};
}

Result<> ContainerdSupervisor::wait_ready(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  cri::CriClient::Options quick;
  quick.timeout = std::chrono::milliseconds(1000);
  auto client = cri::CriClient::connect(endpoint(), quick);
  if (!client) return fail(client.error());
  Error last{ErrorCode::Unavailable, "no answer yet"};
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return fail(ErrorCode::Unavailable, "containerd at " + endpoint() + " is being stopped");
      if (pidfd_ >= 0 && wait_exited(pidfd_, std::chrono::milliseconds(0)) && !supervisor_.joinable())
        return fail(ErrorCode::Unavailable, "containerd exited during start-up; log: " + log_tail(paths_.log));
    }
    if (std::filesystem::exists(paths_.socket)) {
      auto version = (*client)->version();
      if (version) return {};
      last = version.error();
    }
    if (std::chrono::steady_clock::now() > deadline)
      return fail(ErrorCode::Timeout,
                  "containerd at " + endpoint() + " did not answer CRI Version: " + last.message + "; log: " + log_tail(paths_.log));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void ContainerdSupervisor::supervise() {
  auto backoff = std::chrono::milliseconds(200);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    int pidfd = pidfd_;
    lock.unlock();
    bool exited = pidfd >= 0 && wait_exited(pidfd, std::chrono::milliseconds(200));
    lock.lock();
    if (stopping_) break;
    if (pidfd >= 0 && !exited) continue;
    if (pidfd_ >= 0) {
      if (std::chrono::steady_clock::now() - started_ > std::chrono::seconds(30)) backoff = std::chrono::milliseconds(200);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      ::close(pidfd_);
      spdlog::warn("containerd exited pid={} status={} restarting_in_ms={}", pid_,
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), backoff.count());
      pid_ = -1;
      pidfd_ = -1;
    }
    // Backs off (up to 10 s) so a containerd that cannot start does not spin; stop() wakes us.
    if (wake_.wait_for(lock, backoff, [this] { return stopping_; })) break;
    if (auto r = spawn(); !r) {
      spdlog::error("containerd restart failed: {}", r.error().message);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
      continue;
    }
    restarts_.fetch_add(1);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
}

void ContainerdSupervisor::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  std::lock_guard lock(mutex_);
  if (pidfd_ < 0) return;
  pidfd_send_signal(pidfd_, SIGTERM);
  if (!wait_exited(pidfd_, grace)) {
    spdlog::warn("containerd pid={} did not stop within {} ms: SIGKILL", pid_, grace.count());
    pidfd_send_signal(pidfd_, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  ::close(pidfd_);
  spdlog::info("containerd stopped pid={}", pid_);
  pid_ = -1;
  pidfd_ = -1;
}

}  // namespace switchyard::kubelet::runtime
