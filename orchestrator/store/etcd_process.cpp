#include "orchestrator/store/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "orchestrator/store/etcd_store.h"

namespace switchyard::store::testing {

namespace {

constexpr const char* kEtcdBinary = "/usr/bin/etcd";

// A loopback port that was free a moment ago (bind to port 0, read it, release it).
int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace

std::unique_ptr<EtcdProcess> EtcdProcess::start(std::string& error, std::chrono::milliseconds ready_timeout) {
  if (::access(kEtcdBinary, X_OK) != 0) {
    error = "etcd is not installed (Debian package etcd-server)";
    return nullptr;
  }
  auto p = std::unique_ptr<EtcdProcess>(new EtcdProcess());
  p->client_port_ = free_loopback_port();
  int peer_port = free_loopback_port();
  if (p->client_port_ == 0 || peer_port == 0 || p->client_port_ == peer_port) {
    error = "could not find free loopback ports";
    return nullptr;
  }
  std::string client = p->client_url();
  std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
  p->args_ = {kEtcdBinary, "--name=default", "--data-dir=" + (p->dir_.path() / "data").string(), "--listen-client-urls=" + client,
              "--advertise-client-urls=" + client, "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
              "--initial-cluster=default=" + peer, "--initial-cluster-state=new",
              // Progress notifications every second (default 10 min): quiet watches' bookmarks move.
              "--experimental-watch-progress-notify-interval=1s"};
  if (!p->spawn(error) || !p->wait_ready(error, ready_timeout)) return nullptr;  // the destructor kills it
  return p;
}

bool EtcdProcess::restart(std::string& error, std::chrono::milliseconds ready_timeout) {
  kill_now();
  return spawn(error) && wait_ready(error, ready_timeout);
}

bool EtcdProcess::spawn(std::string& error) {
  std::vector<std::string> args = args_;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = (dir_.path() / "etcd.log").string();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    error = "fork failed";
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(kEtcdBinary, argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  return true;
}

bool EtcdProcess::wait_ready(std::string& error, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  EtcdStore::Options quick;
  quick.request_timeout = std::chrono::milliseconds(1000);
  for (;;) {
    auto store = EtcdStore::connect(client_url(), quick);
    if (store) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error = "etcd exited during start-up: " + log_tail();
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      error = "etcd did not become ready: " + store.error().message + "; log: " + log_tail();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

EtcdProcess::~EtcdProcess() { kill_now(); }

void EtcdProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string EtcdProcess::client_url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }

std::string EtcdProcess::log_tail() const {
  std::ifstream in(dir_.path() / "etcd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace switchyard::store::testing
