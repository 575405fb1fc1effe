// The generated containerd and CNI configuration: every path under the data dir, and the
// settings this machine's kernel and privileges need (see DESIGN.md, container runtime).
#include "kubelet/runtime/containerd_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "kubelet/runtime/image_import.h"
#include "kubelet/runtime/node_runtime.h"
#include "kubelet/runtime/runtime_cleanup.h"

namespace switchyard::kubelet::runtime {
namespace {

using ::testing::HasSubstr;

ContainerdOptions sample() {
  ContainerdOptions o;
  o.data_dir = "/var/lib/sy-test/node-a";
  o.pod_cidr = "10.244.3.0/24";
  return o;
}

TEST(ContainerdConfig, EverythingTheInstanceWritesIsUnderItsDataDir) {
  std::string toml = render_containerd_config(sample());
  EXPECT_THAT(toml, HasSubstr("version = 2\n"));
  EXPECT_THAT(toml, HasSubstr("root = \"/var/lib/sy-test/node-a/root\""));
  EXPECT_THAT(toml, HasSubstr("state = \"/var/lib/sy-test/node-a/state\""));
  EXPECT_THAT(toml, HasSubstr("[grpc]\n  address = \"/var/lib/sy-test/node-a/containerd.sock\""));
  EXPECT_THAT(toml, HasSubstr("[ttrpc]\n  address = \"/var/lib/sy-test/node-a/containerd-ttrpc.sock\""));
  EXPECT_THAT(toml, HasSubstr("[debug]\n  address = \"/var/lib/sy-test/node-a/containerd-debug.sock\""));
  EXPECT_THAT(toml, HasSubstr("path = \"/var/lib/sy-test/node-a/opt\""));
  EXPECT_THAT(toml, HasSubstr("Root = \"/var/lib/sy-test/node-a/runc\""));
  EXPECT_THAT(toml, HasSubstr("conf_dir = \"/var/lib/sy-test/node-a/cni/net.d\""));
  EXPECT_THAT(toml, HasSubstr("netns_mounts_under_state_dir = true"));
}

TEST(ContainerdConfig, CarriesWhatThisHostNeeds) {
  std::string toml = render_containerd_config(sample());
  EXPECT_THAT(toml, HasSubstr("restrict_oom_score_adj = true"));  // no CAP_SYS_RESOURCE
  EXPECT_THAT(toml, HasSubstr("disable_apparmor = true"));
  EXPECT_THAT(toml, HasSubstr("SystemdCgroup = false"));
  EXPECT_THAT(toml, HasSubstr("BinaryName = \"/usr/sbin/runc\""));
  EXPECT_THAT(toml, HasSubstr("sandbox_image = \"switchyard.local/pause:1\""));
  EXPECT_THAT(toml, HasSubstr("bin_dir = \"/usr/lib/cni\""));
}

TEST(ContainerdConfig, CniConflistIsABridgeWithHostLocalOverThePodCidr) {
  auto conf = nlohmann::json::parse(render_cni_conflist(sample()));
  ASSERT_EQ(conf["plugins"].size(), 2u);
  const auto& bridge = conf["plugins"][0];
  EXPECT_EQ(bridge["type"], "bridge");
  EXPECT_EQ(bridge["bridge"], "sy-cni0");
  EXPECT_EQ(bridge["isGateway"], true);
  EXPECT_EQ(bridge["ipam"]["type"], "host-local");
  EXPECT_EQ(bridge["ipam"]["dataDir"], "/var/lib/sy-test/node-a/cni/ipam");
  EXPECT_EQ(bridge["ipam"]["ranges"][0][0]["subnet"], "10.244.3.0/24");
  // hostPort: containerd passes the pod's port mappings to the plugin that asks for them.
  EXPECT_EQ(conf["plugins"][1]["type"], "portmap");
  EXPECT_EQ(conf["plugins"][1]["capabilities"]["portMappings"], true);
}

TEST(ContainerdConfig, ADualStackNodeGetsOneRangeSetAndDefaultRoutePerFamily) {
  auto o = sample();
  o.pod_cidr = "10.244.3.0/24,fd00:10:244:3::/64";
  auto ipam = nlohmann::json::parse(render_cni_conflist(o))["plugins"][0]["ipam"];
  EXPECT_EQ(ipam["ranges"].dump(), R"([[{"subnet":"10.244.3.0/24"}],[{"subnet":"fd00:10:244:3::/64"}]])");
  EXPECT_EQ(ipam["routes"].dump(), R"([{"dst":"0.0.0.0/0"},{"dst":"::/0"}])");
}

TEST(ContainerdConfig, WritingRejectsARelativeDirAndWaitsForTheCidrBeforeTheCniConfig) {
  auto o = sample();
  o.data_dir = "relative/dir";
  EXPECT_EQ(write_containerd_files(o).error().code, ErrorCode::Invalid);
  o = sample();
  o.pod_cidr.clear();
  EXPECT_EQ(write_cni_conflist(o).error().code, ErrorCode::Invalid);
  o = sample();
  o.data_dir = "/tmp/" + std::string(100, 'd');  // its sockets' paths would not fit a sockaddr_un
  auto too_long = write_containerd_files(o);
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().code, ErrorCode::Invalid);
  EXPECT_THAT(too_long.error().message, HasSubstr("too long for a unix socket path"));
}

TEST(ContainerdConfig, WritesConfigAndConflistIntoAFreshDir) {
  auto o = sample();
  o.data_dir = "/tmp/sy-containerd-config-test-" + std::to_string(::getpid());
  ASSERT_TRUE(write_containerd_files(o).has_value());
  ContainerdPaths p(o.data_dir);
  std::ifstream config(p.config);
  std::stringstream text;
  text << config.rdbuf();
  EXPECT_EQ(text.str(), render_containerd_config(o));
  EXPECT_TRUE(std::filesystem::exists(p.cni_conf_dir / "10-switchyard.conflist"));
  EXPECT_TRUE(mounts_under(o.data_dir).empty());
  std::filesystem::remove_all(o.data_dir);
  // No podCIDR yet: containerd's config and the empty conf dir, the conflist comes later.
  o.pod_cidr.clear();
  ASSERT_TRUE(write_containerd_files(o).has_value());
  EXPECT_TRUE(std::filesystem::exists(p.config));
  EXPECT_TRUE(std::filesystem::is_directory(p.cni_conf_dir));
  EXPECT_FALSE(std::filesystem::exists(p.cni_conf_dir / "10-switchyard.conflist"));
  o.pod_cidr = "10.244.9.0/24";
  ASSERT_TRUE(write_cni_conflist(o).has_value());
  EXPECT_TRUE(std::filesystem::exists(p.cni_conf_dir / "10-switchyard.conflist"));
  std::filesystem::remove_all(o.data_dir);
}

TEST(ImageArchives, AreTheTarballsOfADirInNameOrder) {
  std::filesystem::path dir = "/tmp/sy-image-archives-test-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir / "sub.tar");
  for (const char* name : {"b.tar", "a.tar", "notes.txt", "c.tar.gz"}) std::ofstream(dir / name) << "x";
  auto found = image_archives_in(dir);
  ASSERT_TRUE(found.has_value());
  std::vector<std::filesystem::path> expected{dir / "a.tar", dir / "b.tar"};
  EXPECT_EQ(*found, expected);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(image_archives_in(dir).error().code, ErrorCode::NotFound);
}

}  // namespace
}  // namespace switchyard::kubelet::runtime
