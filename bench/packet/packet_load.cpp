// The traffic of the packet benchmark: a server that runs in every pod and the clients that run
// in the client namespace. C++ rather than Python so that on 2 cores the load tool is not what
// is measured. Each client prints one JSON object on stdout.
//
//   packet_load serve --udp=9000 --crr=8080 --bulk=5201
//       UDP sink (drains; the bench counts deliveries from /proc/net/snmp of the pod), TCP
//       request/response (answers each request with the same bytes), TCP bulk sink.
//   packet_load udp-flood HOST[,HOST...] PORT SECONDS [--size=18] [--sockets=10]
//       Connected UDP sockets (one per HOST round-robin, --sockets in all), sendmmsg as fast as
//       the kernel takes it. Prints packets sent and the process's CPU time.
//   packet_load crr HOST[,HOST...] PORT SECONDS
//       One connection at a time: connect, 32-byte request, 32-byte reply, close with RST (no
//       TIME_WAIT, so ports do not run out). Prints connections/s and latency percentiles of
//       connect→reply.
//   packet_load bulk HOST PORT SECONDS
//       One TCP stream, 128 KiB writes. Prints bytes and Gbit/s.
//   packet_load rusage COMMAND [ARGS...]
//       Runs COMMAND and prints its peak RSS on stderr as {"max_rss_kib":N}; exits with its code.
//       Linux carries the hiwater RSS of the process that execs into the new image's maxrss, so
//       a large parent cannot measure this itself: this small one forks in between.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "packet_load: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

sockaddr_in address(const std::string& host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "packet_load: bad IPv4 address %s\n", host.c_str());
    std::exit(2);
  }
  return a;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  for (std::size_t p = 0; p <= list.size();) {
    auto comma = list.find(',', p);
    if (comma == std::string::npos) comma = list.size();
    out.push_back(list.substr(p, comma - p));
    p = comma + 1;
  }
  return out;
}

int listening(int type, int port) {
  const int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (type == SOCK_DGRAM) {
    const int big = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind " + std::to_string(port));
  if (type == SOCK_STREAM && listen(fd, 4096) != 0) die("listen");
  return fd;
}

// One epoll loop serves all three ports: only one test runs at a time.
int serve(int udp_port, int crr_port, int bulk_port) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const int udp = listening(SOCK_DGRAM, udp_port), crr = listening(SOCK_STREAM, crr_port), bulk = listening(SOCK_STREAM, bulk_port);
  std::unordered_map<int, bool> is_bulk;  // accepted connections
  for (int fd : {udp, crr, bulk}) {
    epoll_event e{.events = EPOLLIN, .data = {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }
  std::vector<char> buffer(256 << 10);
  constexpr int kBatch = 64;
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iovs(kBatch);
  for (int i = 0; i < kBatch; ++i) {
    iovs[i] = {buffer.data() + i * 2048, 2048};
    msgs[i].msg_hdr = {};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  epoll_event events[64];
  for (;;) {
    const int n = epoll_wait(ep, events, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == udp) {
        while (recvmmsg(udp, msgs.data(), kBatch, MSG_DONTWAIT, nullptr) > 0) {
        }
      } else if (fd == crr || fd == bulk) {
        for (int c; (c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          is_bulk[c] = fd == bulk;
          epoll_event e{.events = EPOLLIN, .data = {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
      } else {
        const ssize_t got = read(fd, buffer.data(), is_bulk[fd] ? buffer.size() : 512);
        if (got > 0 && !is_bulk[fd]) {
          (void)!write(fd, buffer.data(), static_cast<std::size_t>(got));
        } else if (got == 0 || (got < 0 && errno != EAGAIN)) {
          is_bulk.erase(fd);
          close(fd);  // also removes it from the epoll set
        }
      }
    }
  }
}

int udp_flood(const std::vector<std::string>& hosts, int port, double seconds, int size, int sockets) {
  std::vector<int> fds;
  for (int i = 0; i < sockets; ++i) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    const auto a = address(hosts[static_cast<std::size_t>(i) % hosts.size()], port);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) die("connect");
    fds.push_back(fd);
  }
  constexpr int kBatch = 64;
  std::vector<char> payload(static_cast<std::size_t>(size), 'u');
  iovec iov{payload.data(), payload.size()};
  std::vector<mmsghdr> msgs(kBatch);
  for (auto& m : msgs) {
    m.msg_hdr = {};
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  std::uint64_t sent = 0, errors = 0;
  const double cpu = cpu_seconds();
  const auto start = Clock::now();
  for (std::size_t round = 0;; ++round) {
    if ((round & 15) == 0 && seconds_since(start) >= seconds) break;
    const int r = sendmmsg(fds[round % fds.size()], msgs.data(), kBatch, 0);
    if (r > 0)
      sent += static_cast<std::uint64_t>(r);
    else
      ++errors;  // ECONNREFUSED from an earlier ICMP, ENOBUFS: keep going
  }
  const double elapsed = seconds_since(start);
  std::printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.6f,\"cpu_seconds\":%.6f}\n", static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(errors), elapsed, cpu_seconds() - cpu);
  return 0;
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

int crr(const std::vector<std::string>& hosts, int port, double seconds) {
  std::vector<sockaddr_in> targets;
  for (const auto& h : hosts) targets.push_back(address(h, port));
  std::vector<double> latency_us;
  latency_us.reserve(1 << 20);
  std::uint64_t errors = 0;
  char request[32], reply[32];
  std::memset(request, 'r', sizeof request);
  const linger rst{1, 0};
  const int one = 1;
  const double cpu = cpu_seconds();
  const auto start = Clock::now();
  for (std::size_t i = 0; seconds_since(start) < seconds; ++i) {
    const auto t0 = Clock::now();
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const timeval timeout{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    const auto& a = targets[i % targets.size()];
    bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 &&
              write(fd, request, sizeof request) == static_cast<ssize_t>(sizeof request);
    std::size_t got = 0;
    while (ok && got < sizeof reply) {
      const ssize_t r = read(fd, reply + got, sizeof reply - got);
      if (r <= 0)
        ok = false;
      else
        got += static_cast<std::size_t>(r);
    }
    if (ok)
      latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    else
      ++errors;
    close(fd);
  }
  const double elapsed = seconds_since(start);
  std::sort(latency_us.begin(), latency_us.end());
  std::printf(
      "{\"connections\":%zu,\"errors\":%llu,\"seconds\":%.6f,\"per_second\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,"
      "\"cpu_seconds\":%.6f}\n",
      latency_us.size(), static_cast<unsigned long long>(errors), elapsed, static_cast<double>(latency_us.size()) / elapsed,
      percentile(latency_us, 0.50), percentile(latency_us, 0.99), cpu_seconds() - cpu);
  return 0;
}

int bulk(const std::string& host, int port, double seconds) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  const auto a = address(host, port);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) die("connect " + host);
  std::vector<char> chunk(128 << 10, 'b');
  std::uint64_t bytes = 0;
  const double cpu = cpu_seconds();
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    const ssize_t w = write(fd, chunk.data(), chunk.size());
    if (w < 0) die("write");
    bytes += static_cast<std::uint64_t>(w);
  }
  const double elapsed = seconds_since(start);
  close(fd);
  std::printf("{\"bytes\":%llu,\"seconds\":%.6f,\"gbit_per_second\":%.4f,\"cpu_seconds\":%.6f}\n", static_cast<unsigned long long>(bytes),
              elapsed, static_cast<double>(bytes) * 8 / elapsed / 1e9, cpu_seconds() - cpu);
  return 0;
}

int rusage_of(char** argv) {
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    execvp(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) < 0) die("wait4");
  std::fprintf(stderr, "{\"max_rss_kib\":%ld}\n", usage.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int flag(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i < argc; ++i)
    if (std::string a = argv[i]; a.starts_with("--" + name + "=")) return std::atoi(a.c_str() + name.size() + 3);
  return fallback;
}

int usage() {
  std::fprintf(stderr,
               "usage: packet_load serve --udp=P --crr=P --bulk=P\n"
               "       packet_load udp-flood HOSTS PORT SECONDS [--size=18] [--sockets=10]\n"
               "       packet_load crr HOSTS PORT SECONDS\n"
               "       packet_load bulk HOST PORT SECONDS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  if (mode == "rusage" && argc > 2) return rusage_of(argv + 2);
  if (mode == "serve") return serve(flag(argc, argv, "udp", 9000), flag(argc, argv, "crr", 8080), flag(argc, argv, "bulk", 5201));
  if (argc < 5) return usage();
  const auto hosts = split(argv[2]);
  const int port = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  if (mode == "udp-flood") return udp_flood(hosts, port, seconds, flag(argc, argv, "size", 18), flag(argc, argv, "sockets", 10));
  if (mode == "crr") return crr(hosts, port, seconds);
  if (mode == "bulk") return bulk(hosts.front(), port, seconds);
  return usage();
}
