// The two ends of the conntrack soak (ebpf_ct_soak_netns_test), run inside the test's network
// namespaces. Short connections close as HTTP/1.0 ones do: the client sends a request, the
// server answers and closes (its FIN first), the client reads to the end and closes (FIN) — no
// RST, no SO_LINGER 0. The client keeps many connections in flight on one epoll loop, spreads
// them over several source addresses (each address's ephemeral ports come round less often),
// and meanwhile a few long-lived streams exchange a line every second.
//
//   ct_soak_peer serve SHORT_PORT ECHO_PORT
//   ct_soak_peer churn SOURCES ECHO_ADDR:PORT STREAMS PARALLEL FLAG NAME=ADDR:PORT:COUNT...
//     SOURCES: comma-separated local IPv4 addresses; FLAG: a file whose appearance ends the
//     streams (after every phase is done). Phases run in order; those of one name are also
//     summed ("total NAME: ...").
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in parse_endpoint(const std::string& text) {  // ADDR:PORT
  sockaddr_in a{};
  a.sin_family = AF_INET;
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || inet_pton(AF_INET, text.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "bad endpoint %s\n", text.c_str());
    std::exit(2);
  }
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1))));
  return a;
}

void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) std::perror("setrlimit");
  }
}

int listener(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 65535) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  return fd;
}

// One epoll loop: on the short port, read the request, answer "ok\n" and close; on the echo
// port, send back whatever arrives.
int serve(std::uint16_t short_port, std::uint16_t echo_port) {
  raise_fd_limit();
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const int short_listener = listener(short_port), echo_listener = listener(echo_port);
  std::vector<char> echo_fd(1 << 20, 0);  // fd → 1 for echo connections
  for (int l : {short_listener, echo_listener}) {
    epoll_event ev{.events = EPOLLIN, .data = {.fd = l}};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  }
  std::printf("serving short=%u echo=%u\n", short_port, echo_port);
  std::fflush(stdout);
  epoll_event events[256];
  char buf[4096];
  for (;;) {
    const int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == short_listener || fd == echo_listener) {
        int c;
        while ((c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          if (static_cast<std::size_t>(c) < echo_fd.size()) echo_fd[c] = fd == echo_listener;
          epoll_event ev{.events = EPOLLIN, .data = {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      const ssize_t got = read(fd, buf, sizeof buf);
      if (got < 0 && errno == EAGAIN) continue;
      if (got > 0 && echo_fd[fd]) {
        if (write(fd, buf, static_cast<std::size_t>(got)) != got) std::perror("echo write");
        continue;
      }
      // A short connection's request (one small segment), or the peer's end: answer and close.
      if (got > 0 && write(fd, "ok\n", 3) != 3) std::perror("write");
      close(fd);  // nothing unread is left, so this is a FIN, not a reset
    }
  }
}

struct Phase {
  std::string name;
  sockaddr_in to{};
  long count = 0;
};

// `count` short connections to `to`, `parallel` in flight, round-robin over `sources`.
struct PhaseResult {
  long done = 0, failed = 0, stuck = 0;
  double seconds = 0;
  std::map<int, long> errors;  // errno → count
};

PhaseResult churn(const Phase& phase, const std::vector<sockaddr_in>& sources, int parallel) {
  enum State : char { kFree, kConnecting, kReading };
  struct Slot {
    int fd = -1;
    State state = kFree;
    bool answered = false;
  };
  PhaseResult r;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Slot> slots(static_cast<std::size_t>(parallel));
  long started = 0;
  std::size_t next_source = 0;
  auto fail = [&](Slot& s, int err) {
    ++r.failed;
    ++r.errors[err];
    if (s.fd >= 0) close(s.fd);
    s = Slot{};
  };
  auto open_one = [&](std::size_t index) {
    Slot& s = slots[index];
    while (started < phase.count) {
      ++started;
      s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      const int one = 1;
      setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      const sockaddr_in& from = sources[next_source++ % sources.size()];
      if (bind(s.fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 ||
          (connect(s.fd, reinterpret_cast<const sockaddr*>(&phase.to), sizeof phase.to) != 0 && errno != EINPROGRESS)) {
        fail(s, errno);
        continue;
      }
      s.state = kConnecting;
      epoll_event ev{.events = EPOLLOUT, .data = {.u64 = index}};
      epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
      return;
    }
  };
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < slots.size(); ++i) open_one(i);
  epoll_event events[512];
  char buf[256];
  while (r.done + r.failed < phase.count) {
    const int n = epoll_wait(ep, events, 512, 30'000);
    if (n == 0) {  // what is still in flight is stuck (a SYN retried for 30 s gets no answer)
      r.stuck = phase.count - r.done - r.failed;
      break;
    }
    for (int i = 0; i < n; ++i) {
      const std::size_t index = events[i].data.u64;
      Slot& s = slots[index];
      if (s.state == kConnecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || write(s.fd, "GET\n", 4) != 4) {
          fail(s, err != 0 ? err : errno);
          open_one(index);
          continue;
        }
        s.state = kReading;
        epoll_event ev{.events = EPOLLIN, .data = {.u64 = index}};
        epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
        continue;
      }
      const ssize_t got = read(s.fd, buf, sizeof buf);
      if (got < 0 && errno == EAGAIN) continue;
      if (got > 0) {
        s.answered = s.answered || buf[0] == 'o';
        continue;
      }
      if (got < 0 || !s.answered) {
        fail(s, got < 0 ? errno : ENODATA);
      } else {
        close(s.fd);  // after the server's FIN: ours, a normal close
        s = Slot{};
        ++r.done;
      }
      open_one(index);
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  close(ep);
  return r;
}

// Long-lived streams: each sends "tick N\n" every second and must get it back.
struct Streams {
  std::atomic<bool> stop{false};
  std::atomic<long> exchanges{0}, failures{0};
  std::string first_failure;
};

void run_streams(Streams& st, const sockaddr_in& to, int count) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const timeval tv{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
      ++st.failures;
      st.first_failure = std::string("connect: ") + std::strerror(errno);
    }
    fds.push_back(fd);
  }
  for (long tick = 0; !st.stop; ++tick) {
    for (int fd : fds) {
      const std::string line = "tick " + std::to_string(tick) + "\n";
      std::string got;
      char buf[64];
      bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      while (ok && got.size() < line.size()) {
        const ssize_t n = read(fd, buf, sizeof buf);
        ok = n > 0;
        if (ok) got.append(buf, static_cast<std::size_t>(n));
      }
      if (ok && got == line) {
        ++st.exchanges;
      } else if (st.failures++ == 0) {
        st.first_failure = "tick " + std::to_string(tick) + ": " + (ok ? "answered " + got : std::strerror(errno));
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  for (int fd : fds) close(fd);
}

int churn_main(int argc, char** argv) {
  raise_fd_limit();
  std::vector<sockaddr_in> sources;
  for (std::string list = argv[2]; !list.empty();) {
    const auto comma = list.find(',');
    sources.push_back(parse_endpoint(list.substr(0, comma) + ":0"));
    list = comma == std::string::npos ? "" : list.substr(comma + 1);
  }
  const sockaddr_in echo = parse_endpoint(argv[3]);
  const int streams = std::atoi(argv[4]), parallel = std::atoi(argv[5]);
  const std::string flag = argv[6];
  std::vector<Phase> phases;
  for (int i = 7; i < argc; ++i) {
    const std::string spec = argv[i];
    const auto eq = spec.find('='), last = spec.rfind(':');
    phases.push_back({spec.substr(0, eq), parse_endpoint(spec.substr(eq + 1, last - eq - 1)), std::atol(spec.c_str() + last + 1)});
  }
  Streams st;
  std::thread streams_thread([&] { run_streams(st, echo, streams); });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // streams established before the churn
  bool all_ok = true;
  std::vector<std::pair<std::string, PhaseResult>> totals;  // by name, in order of first appearance
  for (const Phase& p : phases) {
    const PhaseResult r = churn(p, sources, parallel);
    auto total = std::find_if(totals.begin(), totals.end(), [&](const auto& t) { return t.first == p.name; });
    if (total == totals.end()) total = totals.insert(totals.end(), {p.name, PhaseResult{}});
    total->second.done += r.done;
    total->second.failed += r.failed;
    total->second.stuck += r.stuck;
    total->second.seconds += r.seconds;
    std::printf("phase %s: connections done=%ld failed=%ld stuck=%ld seconds=%.1f rate=%.0f/s\n", p.name.c_str(), r.done, r.failed, r.stuck,
                r.seconds, r.done / r.seconds);
    for (const auto& [err, n] : r.errors) std::printf("  errno %d (%s): %ld\n", err, std::strerror(err), n);
    std::fflush(stdout);
    all_ok = all_ok && r.failed == 0 && r.stuck == 0 && r.done == p.count;
  }
  // Phases of one name may alternate with others' (short blocks): their rates then compare
  // under the same load on the machine.
  for (const auto& [name, t] : totals)
    std::printf("total %s: connections done=%ld failed=%ld stuck=%ld seconds=%.1f rate=%.0f/s\n", name.c_str(), t.done, t.failed, t.stuck,
                t.seconds, t.done / t.seconds);
  std::printf("churn finished\n");
  std::fflush(stdout);
  struct stat sb {};
  while (stat(flag.c_str(), &sb) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  st.stop = true;
  streams_thread.join();
  std::printf("long streams=%d exchanges=%ld failures=%ld %s\n", streams, st.exchanges.load(), st.failures.load(),
              st.first_failure.c_str());
  return all_ok && st.failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc == 4 && std::strcmp(argv[1], "serve") == 0)
    return serve(static_cast<std::uint16_t>(std::atoi(argv[2])), static_cast<std::uint16_t>(std::atoi(argv[3])));
  if (argc >= 8 && std::strcmp(argv[1], "churn") == 0) return churn_main(argc, argv);
  std::fprintf(stderr,
               "usage: ct_soak_peer serve SHORT_PORT ECHO_PORT | churn SOURCES ECHO STREAMS PARALLEL FLAG NAME=ADDR:PORT:COUNT...\n");
  return 2;
}
