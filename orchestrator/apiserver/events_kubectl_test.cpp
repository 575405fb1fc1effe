// Events stored and served as kubectl reads them, against a real `switchyard apiserver`: what a
// kubelet posts shows in `kubectl get events` and under the Pod's `kubectl describe`, and is
// gone once --event-ttl has passed since it was last seen.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::wait_until;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

class EventsKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "events-" + GetParam(), std::vector<std::string>{"--event-ttl", "4"});
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  // An event as kubelet's recorder posts it about a Pod.
  void post_event(const std::string& name, const std::string& pod, const std::string& uid, const std::string& reason,
                  const std::string& message) {
    const std::string now = testing::run("date -u +%Y-%m-%dT%H:%M:%SZ").output.substr(0, 20);
    const std::string manifest = "apiVersion: v1\nkind: Event\nmetadata: {name: " + name +
                                 "}\ninvolvedObject: {apiVersion: v1, kind: Pod, namespace: default, name: " + pod + ", uid: \"" + uid +
                                 "\", fieldPath: \"spec.containers{c}\"}\nreason: " + reason + "\nmessage: \"" + message +
                                 "\"\ntype: Normal\nsource: {component: kubelet, host: node-a}\nfirstTimestamp: \"" + now +
                                 "\"\nlastTimestamp: \"" + now + "\"\ncount: 1\n";
    auto r = k("create -f " + server_->file(name + ".yaml", manifest));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

TEST_P(EventsKubectl, PostedEventsShowInGetAndDescribeAndExpire) {
  for (const char* pod : {"web", "db"}) {
    auto r = k(std::string("run ") + pod + " --image=busybox --restart=Never");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const std::string web_uid = k("get pod web -o jsonpath={.metadata.uid}").output;
  const std::string db_uid = k("get pod db -o jsonpath={.metadata.uid}").output;
  post_event("web.1", "web", web_uid, "Started", "Started container c");
  post_event("db.1", "db", db_uid, "Pulled", "Container image busybox already present on machine");

  auto events = k("get events");
  ASSERT_EQ(events.exit_code, 0) << events.output;
  EXPECT_THAT(events.output, ContainsRegex("LAST SEEN +TYPE +REASON +OBJECT +MESSAGE"));
  EXPECT_THAT(events.output, ContainsRegex("[0-9]+s +Normal +Started +pod/web +Started container c")) << events.output;
  EXPECT_THAT(events.output, ContainsRegex("Normal +Pulled +pod/db +Container image busybox"));

  auto describe = k("describe pod web");
  ASSERT_EQ(describe.exit_code, 0) << describe.output;
  EXPECT_THAT(describe.output, ContainsRegex("Events:\n +Type +Reason +Age +From +Message")) << describe.output;
  EXPECT_THAT(describe.output, ContainsRegex("Normal +Started +[0-9]+s +kubelet(, node-a)? +Started container c"));
  EXPECT_THAT(describe.output, Not(HasSubstr("Pulled")));  // db's event is not web's

  // kube-apiserver keeps events for --event-ttl after they were last seen (4 s here).
  EXPECT_TRUE(wait_until(15, [&] { return k("get events").output.find("No resources found") != std::string::npos; }))
      << k("get events").output;
}

INSTANTIATE_TEST_SUITE_P(Kubectl, EventsKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::apiserver
