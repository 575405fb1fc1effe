// print_pod: kubectl's READY/STATUS/RESTARTS from the statuses a kubelet writes.
#include "orchestrator/apiserver/pod_printer.h"

#include <gtest/gtest.h>

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

PodPrintout print(const std::string& text) {
  return print_pod(json::parse(text), [](const std::string&) { return std::string("7s"); });
}

TEST(PodPrinter, RunningReadyPod) {
  auto p = print(R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],
              "containerStatuses":[{"name":"c","ready":true,"restartCount":0,"state":{"running":{}}}]}})");
  EXPECT_EQ(p.ready, "1/1");
  EXPECT_EQ(p.status, "Running");
  EXPECT_EQ(p.restarts, "0");
}

TEST(PodPrinter, CrashLoopBackOffWithRestartsAgo) {
  auto p = print(R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"c","ready":false,"restartCount":2,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":1,"finishedAt":"2026-01-01T00:00:00Z"}}}]}})");
  EXPECT_EQ(p.ready, "0/1");
  EXPECT_EQ(p.status, "CrashLoopBackOff");
  EXPECT_EQ(p.restarts, "2 (7s ago)");
}

TEST(PodPrinter, InitProgressAndFailures) {
  const std::string spec = R"("spec":{"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"c"}]})";
  auto p = print(R"({"metadata":{"name":"a"},)" + spec + R"(,"status":{"phase":"Pending","initContainerStatuses":[
    {"name":"i1","restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
    {"name":"i2","restartCount":0,"state":{"running":{}}}],
    "containerStatuses":[{"name":"c","restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}})");
  EXPECT_EQ(p.status, "Init:1/2");
  p = print(R"({"metadata":{"name":"a"},)" + spec + R"(,"status":{"phase":"Pending","initContainerStatuses":[
    {"name":"i1","restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})");
  EXPECT_EQ(p.status, "Init:CrashLoopBackOff");
  EXPECT_EQ(p.restarts, "3");
  p = print(R"({"metadata":{"name":"a"},)" + spec + R"(,"status":{"phase":"Failed","initContainerStatuses":[
    {"name":"i1","restartCount":0,"state":{"terminated":{"exitCode":2}}}]}})");
  EXPECT_EQ(p.status, "Init:ExitCode:2");
}

TEST(PodPrinter, CompletedErrorNotReadyAndTerminating) {
  auto p = print(R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Succeeded","containerStatuses":[{"name":"c","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})");
  EXPECT_EQ(p.status, "Completed");
  p = print(R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Failed","containerStatuses":[{"name":"c","state":{"terminated":{"exitCode":1,"reason":"Error"}}}]}})");
  EXPECT_EQ(p.status, "Error");
  p = print(R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"},{"name":"d"}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"c","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
                                                    {"name":"d","ready":true,"state":{"running":{}}}]}})");
  EXPECT_EQ(p.status, "NotReady");
  EXPECT_EQ(p.ready, "1/2");
  p = print(R"({"metadata":{"name":"a","deletionTimestamp":"2026-01-01T00:00:00Z"},"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"c","ready":true,"state":{"running":{}}}]}})");
  EXPECT_EQ(p.status, "Terminating");
  p = print(R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Pending"}})");
  EXPECT_EQ(p.status, "Pending");
  EXPECT_EQ(p.ready, "0/1");
}

}  // namespace
}  // namespace switchyard::apiserver
