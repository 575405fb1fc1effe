// `switchyard dns` as a user runs it: one process as the upstream (the example manifests under
// another domain), one forwarding to it with --upstream, serving /metrics, /health and /ready.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/process.h"

namespace switchyard::testing {
namespace {

using ::testing::HasSubstr;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Starts `switchyard dns ARGS` and waits for its "serving" line; gives the log and the ports.
class DnsProcess {
 public:
  explicit DnsProcess(std::vector<std::string> args) {
    static int counter = 0;
    log_ = fmt::format("/tmp/sy-dns-command-{}-{}.log", getpid(), counter++);
    args.insert(args.begin(),
                {SWITCHYARD_BINARY, "dns", "--manifests", EXAMPLES_DIR "/dns.yaml", "--listen", "127.0.0.1:0", "--workers", "1"});
    process_ = std::make_unique<ChildProcess>(args, log_);
    wait_until(10, [&] { return log().find("serving ") != std::string::npos; });
    std::smatch m;
    const std::string text = log();
    if (std::regex_search(text, m, std::regex(R"(serving .* on 127\.0\.0\.1:(\d+))"))) dns_port = m[1];
    const std::regex status_line(R"(status on (\S+) \(port (\d+)\))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), status_line); it != std::sregex_iterator(); ++it)
      status_ports.push_back((*it)[2]);
  }
  ~DnsProcess() {
    process_.reset();
    std::filesystem::remove(log_);
  }
  std::string log() const { return read_file(log_); }
  std::string dns_port;
  std::vector<std::string> status_ports;

 private:
  std::string log_;
  std::unique_ptr<ChildProcess> process_;
};

TEST(DnsCommand, ForwardsToUpstreamAndServesMetricsHealthAndReadiness) {
  DnsProcess upstream({"--cluster-domain", "upstream.test", "--resolv-conf", ""});
  ASSERT_FALSE(upstream.dns_port.empty()) << upstream.log();
  EXPECT_THAT(upstream.log(), HasSubstr("forwarding to nothing (REFUSED)"));
  DnsProcess ours({"--upstream", "127.0.0.1:" + upstream.dns_port, "--metrics-listen", "127.0.0.1:0", "--health-listen", "127.0.0.1:0"});
  ASSERT_FALSE(ours.dns_port.empty()) << ours.log();
  ASSERT_EQ(ours.status_ports.size(), 2u) << ours.log();
  EXPECT_THAT(ours.log(), HasSubstr("forwarding to 127.0.0.1:" + upstream.dns_port));

  const std::string dig = "dig @127.0.0.1 -p " + ours.dns_port + " +time=3 +tries=1 +short ";
  EXPECT_EQ(run(dig + "web.shop.svc.upstream.test").output, "10.96.0.10\n");
  EXPECT_EQ(run(dig + "web.shop.svc.upstream.test").output, "10.96.0.10\n");
  EXPECT_EQ(run(dig + "web.shop.svc.cluster.local").output, "10.96.0.10\n");

  const std::string curl = "curl -s -o - -w ' %{http_code}' http://127.0.0.1:";
  const auto metrics = run(curl + ours.status_ports[0] + "/metrics").output;
  EXPECT_THAT(metrics, HasSubstr("switchyard_dns_requests_total{type=\"A\"} 3\n"));
  EXPECT_THAT(metrics, HasSubstr("switchyard_dns_cache_hits_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("switchyard_dns_cache_misses_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("switchyard_dns_forward_requests_total 1\n"));  // client queries (the loop probe is not counted)
  EXPECT_THAT(metrics, HasSubstr("switchyard_dns_responses_total{rcode=\"NOERROR\"} 3\n"));
  EXPECT_THAT(metrics, HasSubstr("switchyard_dns_request_duration_seconds_count 3\n"));
  EXPECT_THAT(metrics, HasSubstr("switchyard_dns_forward_in_flight 0\n"));
  EXPECT_THAT(metrics, HasSubstr(" 200"));
  EXPECT_EQ(run(curl + ours.status_ports[1] + "/health").output, "OK\n 200");
  EXPECT_EQ(run(curl + ours.status_ports[1] + "/ready").output, "OK\n 200");
  EXPECT_THAT(run(curl + ours.status_ports[1] + "/nothing").output, HasSubstr(" 404"));
}

TEST(DnsCommand, BadUpstreamsAreReportedByName) {
  const auto r =
      run(std::string(SWITCHYARD_BINARY) + " dns --manifests " EXAMPLES_DIR "/dns.yaml --listen 127.0.0.1:0 --upstream dns.google");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("upstream dns.google: dns.google is not an IP address"));
  const auto missing = run(std::string(SWITCHYARD_BINARY) + " dns --manifests " EXAMPLES_DIR
                                                            "/dns.yaml --listen 127.0.0.1:0 --resolv-conf /nonexistent/resolv.conf");
  EXPECT_THAT(missing.output, HasSubstr("/nonexistent/resolv.conf: cannot read the file"));
}

}  // namespace
}  // namespace switchyard::testing
