// Events stored and served as kubectl reads them, against a real `switchyard apiserver`: what a
// kubelet posts shows in `kubectl get events` and under the Pod's `kubectl describe`, and is
// gone once --event-ttl has passed since it was last seen. events.k8s.io/v1 serves the same
// events in its own names.
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

// events.k8s.io/v1, as an events/v1 recorder (the scheduler's, the kubelet's in newer releases)
// writes it: one store with core/v1, each version in its own field names.
class EventsV1Kubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "events-v1-" + GetParam());
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  testing::CommandResult create(const std::string& name, const std::string& manifest) {
    return k("create -f " + server_->file(name + ".yaml", manifest));
  }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

TEST_P(EventsV1Kubectl, TheSameEventsAreServedInBothVersions) {
  ASSERT_EQ(k("run web --image=busybox --restart=Never").exit_code, 0);
  const std::string uid = k("get pod web -o jsonpath={.metadata.uid}").output;
  auto resources = k("api-resources --api-group=events.k8s.io");
  EXPECT_THAT(resources.output, ContainsRegex("events +ev +events.k8s.io/v1 +true +Event")) << resources.output;

  // Written through events.k8s.io/v1, read through core/v1.
  const std::string now = testing::run("date -u +%Y-%m-%dT%H:%M:%S.000000Z").output.substr(0, 27);
  auto made = create("sched",
                     "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: web.sched, namespace: default}\n"
                     "eventTime: \"" +
                         now +
                         "\"\nreportingController: default-scheduler\n"
                         "reportingInstance: default-scheduler-node-a\naction: Binding\nreason: Scheduled\n"
                         "regarding: {apiVersion: v1, kind: Pod, namespace: default, name: web, uid: " +
                         uid +
                         "}\n"
                         "note: Successfully assigned default/web to node-a\ntype: Normal\n");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto core = k("get events web.sched -o jsonpath={.apiVersion}/{.message}/{.involvedObject.name}/{.reportingComponent}");
  EXPECT_EQ(core.output, "v1/Successfully assigned default/web to node-a/web/default-scheduler");
  auto table = k("get events");
  EXPECT_THAT(table.output, ContainsRegex("Normal +Scheduled +pod/web +Successfully assigned default/web to node-a")) << table.output;
  auto describe = k("describe pod web");
  EXPECT_THAT(describe.output, ContainsRegex("Normal +Scheduled +[0-9]+s +default-scheduler +Successfully assigned")) << describe.output;

  // Written through core/v1, read through events.k8s.io/v1.
  made = create("kubelet",
                "apiVersion: v1\nkind: Event\nmetadata: {name: web.pulled}\n"
                "involvedObject: {apiVersion: v1, kind: Pod, namespace: default, name: web}\nreason: Pulled\n"
                "message: already present\ntype: Normal\nsource: {component: kubelet, host: node-a}\ncount: 3\n");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto v1 =
      k("get events.v1.events.k8s.io web.pulled -o "
        "jsonpath={.apiVersion}/{.note}/{.regarding.name}/{.deprecatedSource.component}/{.deprecatedCount}");
  EXPECT_EQ(v1.output, "events.k8s.io/v1/already present/web/kubelet/3");
  auto v1_table = k("get events.events.k8s.io");
  EXPECT_THAT(v1_table.output, ContainsRegex("LAST SEEN +TYPE +REASON +OBJECT +MESSAGE"));
  EXPECT_THAT(v1_table.output, ContainsRegex("Normal +Pulled +pod/web +already present")) << v1_table.output;
  EXPECT_THAT(v1_table.output, ContainsRegex("Normal +Scheduled +pod/web")) << v1_table.output;

  // Field selectors in events.k8s.io/v1 names.
  auto selected = k("get events.events.k8s.io -o name --field-selector reason=Pulled,regarding.name=web");
  EXPECT_EQ(selected.output, "event.events.k8s.io/web.pulled\n");

  // A PATCH through events.k8s.io/v1 lands in the stored event.
  auto patched = k("patch events.events.k8s.io web.pulled --type=merge -p '{\"note\":\"now pulled\"}'");
  ASSERT_EQ(patched.exit_code, 0) << patched.output;
  EXPECT_EQ(k("get events web.pulled -o jsonpath={.message}").output, "now pulled");
  ASSERT_EQ(k("delete events.events.k8s.io web.pulled").exit_code, 0);
  EXPECT_THAT(k("get events web.pulled").output, HasSubstr("events \"web.pulled\" not found"));
}

TEST_P(EventsV1Kubectl, AnEventsV1EventNeedsWhatUpstreamRequires) {
  // No eventTime, action or reportingInstance, and a deprecated field set: 422 with each field.
  auto bad = create("bad",
                    "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: bad, namespace: default}\n"
                    "reportingController: me\nreason: R\ntype: Normal\ndeprecatedCount: 2\n"
                    "regarding: {kind: Pod, namespace: default, name: web}\n");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("The Event \"bad\" is invalid")) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("reportingInstance: Required value"));
  EXPECT_THAT(bad.output, HasSubstr("action: Required value"));
  EXPECT_THAT(bad.output, HasSubstr("eventTime: Required value"));
  EXPECT_THAT(bad.output, HasSubstr("count: Invalid value: \"\": needs to be unset"));
  // core/v1 names are not events.k8s.io/v1 fields: kubectl's strict field validation says so.
  auto core_named = create("core-named",
                           "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: cn, namespace: default}\n"
                           "eventTime: \"2026-12-07T10:00:00.000000Z\"\nreportingController: me\n"
                           "reportingInstance: me-1\naction: A\nreason: R\ntype: Normal\nmessage: hi\n");
  EXPECT_NE(core_named.exit_code, 0);
  EXPECT_THAT(core_named.output, HasSubstr("unknown field \"message\"")) << core_named.output;
  EXPECT_THAT(k("get events -o name").output, Not(HasSubstr("event/")));
}

INSTANTIATE_TEST_SUITE_P(Kubectl, EventsV1Kubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

INSTANTIATE_TEST_SUITE_P(Kubectl, EventsKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::apiserver
