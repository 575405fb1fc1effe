// The baseline of the packet benchmark must be kube-proxy's layout, loadable as kube-proxy
// loads it: the chain structure, the statistic probabilities, and iptables-restore (inside a
// namespace of the test's own) accepting the full and the partial restore.
#include "bench/packet/kube_proxy_iptables.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "dataplane/testing/network_namespace.h"

namespace switchyard::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<KubeProxyServicePort> two_services() {
  KubeProxyServicePort web{.namespace_ = "shop",
                           .name = "web",
                           .port_name = "http",
                           .protocol = "tcp",
                           .cluster_ip = "10.96.0.10",
                           .port = 80,
                           .node_port = 30080,
                           .endpoints = {}};
  for (int i = 0; i < 4; ++i) web.endpoints.push_back({"10.244.0." + std::to_string(11 + i), 8080});
  KubeProxyServicePort dns{.namespace_ = "kube-system",
                           .name = "dns",
                           .port_name = "dns",
                           .protocol = "udp",
                           .cluster_ip = "10.96.0.53",
                           .port = 53,
                           .node_port = 0,
                           .endpoints = {{"10.244.0.30", 5353}}};
  return {web, dns};
}

std::vector<std::string> lines_with(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix)) out.push_back(line);
  return out;
}

TEST(KubeProxyIptables, ChainNamesAreKubeProxysHashes) {
  const auto ports = two_services();
  const auto svc = kube_chain("KUBE-SVC-", ports[0]);
  EXPECT_TRUE(std::regex_match(svc, std::regex("KUBE-SVC-[A-Z2-7]{16}"))) << svc;
  EXPECT_NE(svc, kube_chain("KUBE-SVC-", ports[1]));
  EXPECT_NE(kube_chain("KUBE-SEP-", ports[0], "10.244.0.11:8080"), kube_chain("KUBE-SEP-", ports[0], "10.244.0.12:8080"));
  EXPECT_EQ(svc, kube_chain("KUBE-SVC-", ports[0])) << "stable across calls";
}

TEST(KubeProxyIptables, ServicesChainDispatchesEveryPortThenNodePortsLast) {
  const auto ports = two_services();
  const auto text = kube_proxy_full_restore(ports, "10.244.0.0/16");
  const auto services = lines_with(text, "-A KUBE-SERVICES ");
  ASSERT_EQ(services.size(), 3u);
  EXPECT_THAT(services[0], HasSubstr("-m tcp -p tcp -d 10.96.0.10/32 --dport 80 -j " + kube_chain("KUBE-SVC-", ports[0])));
  EXPECT_THAT(services[1], HasSubstr("-m udp -p udp -d 10.96.0.53/32 --dport 53 -j " + kube_chain("KUBE-SVC-", ports[1])));
  EXPECT_THAT(services[2], HasSubstr("--dst-type LOCAL -j KUBE-NODEPORTS"));
  EXPECT_THAT(lines_with(text, "-A KUBE-NODEPORTS "),
              ::testing::ElementsAre(HasSubstr("--dport 30080 -j " + kube_chain("KUBE-EXT-", ports[0]))));
}

TEST(KubeProxyIptables, EndpointsArePickedWithDecreasingOneOverNMinusI) {
  const auto ports = two_services();
  const auto text = kube_proxy_full_restore(ports, "10.244.0.0/16");
  const auto svc = lines_with(text, "-A " + kube_chain("KUBE-SVC-", ports[0]) + " ");
  ASSERT_EQ(svc.size(), 5u);  // masquerade mark + 4 endpoints
  EXPECT_THAT(svc[0], HasSubstr("! -s 10.244.0.0/16 -j KUBE-MARK-MASQ"));
  EXPECT_THAT(svc[1], HasSubstr("--mode random --probability 0.2500000000"));
  EXPECT_THAT(svc[2], HasSubstr("--probability 0.3333333333"));
  EXPECT_THAT(svc[3], HasSubstr("--probability 0.5000000000"));
  EXPECT_THAT(svc[4], Not(HasSubstr("statistic")));
  const auto sep = lines_with(text, "-A " + kube_chain("KUBE-SEP-", ports[0], "10.244.0.14:8080") + " ");
  ASSERT_EQ(sep.size(), 2u);
  EXPECT_THAT(sep[0], HasSubstr("-s 10.244.0.14/32 -j KUBE-MARK-MASQ"));
  EXPECT_THAT(sep[1], HasSubstr("-m tcp -p tcp -j DNAT --to-destination 10.244.0.14:8080"));
  EXPECT_THAT(svc[4], HasSubstr("-j " + kube_chain("KUBE-SEP-", ports[0], "10.244.0.14:8080")));
}

// iptables-restore inside a namespace of the test's own: the layout loads, the jumps attach,
// and a partial restore replaces one endpoint and deletes its chain.
TEST(KubeProxyIptables, IptablesRestoreLoadsTheFullAndThePartialLayout) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  auto ns = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-kpt", "node"));
  ASSERT_TRUE(ns) << ns.error();
  auto ports = two_services();
  const std::string file = "/tmp/" + ns->name() + ".rules";
  auto restore = [&](const std::string& text, const std::string& flags) {
    std::ofstream(file) << text;
    return ns->run("iptables-restore -w " + flags + " < " + file);
  };
  auto tested = restore(kube_proxy_full_restore(ports, "10.244.0.0/16"), "--noflush --test");
  EXPECT_TRUE(tested.ok()) << tested.output;
  auto loaded = restore(kube_proxy_full_restore(ports, "10.244.0.0/16"), "--noflush");
  ASSERT_TRUE(loaded.ok()) << loaded.output;
  for (const auto& c : kube_proxy_jump_commands()) ASSERT_TRUE(ns->run(c).ok()) << c;
  const auto svc = kube_chain("KUBE-SVC-", ports[0]);
  EXPECT_EQ(lines_with(ns->run("iptables -w -t nat -S " + svc).output, "-A ").size(), 5u);
  EXPECT_THAT(ns->run("iptables -w -t nat -S PREROUTING").output, HasSubstr("-j KUBE-SERVICES"));

  const auto removed = ports[0].endpoints.front();
  ports[0].endpoints.front().ip = "10.244.0.99";
  auto partial = restore(kube_proxy_partial_restore(ports, ports[0], {removed}, "10.244.0.0/16"), "--noflush");
  ASSERT_TRUE(partial.ok()) << partial.output;
  const auto rules = ns->run("iptables -w -t nat -S").output;
  EXPECT_THAT(rules, HasSubstr("--to-destination 10.244.0.99:8080"));
  EXPECT_THAT(rules, Not(HasSubstr("10.244.0.11")));
  EXPECT_THAT(rules, Not(HasSubstr(kube_chain("KUBE-SEP-", ports[0], "10.244.0.11:8080"))));
  EXPECT_EQ(lines_with(rules, "-A KUBE-SERVICES ").size(), 3u) << "rewritten, not appended to";
  std::remove(file.c_str());
}

}  // namespace
}  // namespace switchyard::bench
