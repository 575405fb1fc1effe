// Two `switchyard apiserver` processes on one real etcd, as an HA control plane: each runs the
// controllers and the scheduler in-process under leader election (on by default with etcd), so
// exactly one of them is active. With the real kubectl 1.33 and no kubelet (the test marks bound
// pods Running and Ready through pods/status, as the kubelet would):
// - the first server leads kube-controller-manager and kube-scheduler, the second stands by;
// - a Deployment rollout is under way when the leader is killed with SIGKILL;
// - the standby takes both Leases over within the lease duration (plus one retry period: it
//   must see the record unchanged for a whole lease duration on its own clock), schedules the
//   new pods and completes the rollout; every request in the meantime goes to the second server;
// - a client given both servers (an informer, as a node's components with --master A,B) started
//   on the first keeps following the pods on the second.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "netns-tests/support/apiserver_process.h"
#include "orchestrator/api/types.h"
#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/store/etcd_process.h"

namespace switchyard::controllers {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

constexpr const char* kKubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";

class ControlPlaneFailover : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kKubectl)) << kKubectl << " is not on this machine";
    std::string error;
    etcd_ = store::testing::EtcdProcess::start(error);
    ASSERT_TRUE(etcd_) << error;
    const std::vector<std::string> args{"--store", "etcd=" + etcd_->client_url()};
    first_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "failover-a", args);
    ASSERT_TRUE(first_->wait_ready(kKubectl)) << first_->log();
    // The first server leads both Leases before the second starts, so the test knows whom to kill.
    ASSERT_TRUE(wait_until(20, [&] { return leads(*first_, "kube-controller-manager") && leads(*first_, "kube-scheduler"); }))
        << first_->log();
    second_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "failover-b", args, first_->data_dir());
    ASSERT_TRUE(second_->wait_ready(kKubectl)) << second_->log();
  }
  void TearDown() override {
    stop_kubelet_ = true;
    if (kubelet_.joinable()) kubelet_.join();
    if (HasFailure()) {
      if (first_) std::cerr << "first apiserver:\n" << tail(*first_) << "\n";
      if (second_) std::cerr << "second apiserver:\n" << tail(*second_) << "\n";
    }
    second_.reset();
    first_.reset();
    etcd_.reset();
  }

  static std::string tail(const ApiserverProcess& s) {
    return testing::run("grep -E 'leader|component_|error' " + (s.dir() / "apiserver.log").string() + " | tail -n 40").output;
  }
  // Whether `s` logged that it became the leader of kube-system/`lease`.
  static bool leads(const ApiserverProcess& s, const std::string& lease) {
    return s.log().find("event=leader_elected lease=kube-system/" + lease + " ") != std::string::npos;
  }
  testing::CommandResult k(const std::string& args) { return second_->run_kubectl(kKubectl, args); }
  std::string get(const std::string& what, const std::string& path) { return k("get " + what + " -o jsonpath='" + path + "'").output; }

  // The kubelet's part: pods bound to a node turn Running and Ready, and deleted ones go once
  // their containers would have stopped.
  void start_kubelet() {
    kubelet_ = std::thread([this] {
      while (!stop_kubelet_) {
        for (const auto& gone : {get("pods -l app=web", "{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name} {end}")})
          if (!gone.empty()) k("delete pod --grace-period=0 --force --wait=false " + gone);
        const auto pods = get("pods -l app=web", "{range .items[?(@.spec.nodeName)]}{.metadata.name} {.status.phase}{\"\\n\"}{end}");
        std::istringstream in(pods);
        std::string name, phase;
        while (in >> name) {
          std::getline(in, phase);
          if (phase.find("Running") == std::string::npos)
            k("patch pod " + name +
              R"( --subresource=status --type=merge -p '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}')");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }

  std::unique_ptr<store::testing::EtcdProcess> etcd_;
  std::unique_ptr<ApiserverProcess> first_, second_;
  std::thread kubelet_;
  std::atomic<bool> stop_kubelet_{false};
};

TEST_F(ControlPlaneFailover, TheStandbyTakesOverTheControllersAndTheSchedulerAndARolloutCompletes) {
  // Only the leader runs them: the second server logged no start of either.
  EXPECT_FALSE(leads(*second_, "kube-controller-manager")) << second_->log();
  EXPECT_FALSE(leads(*second_, "kube-scheduler")) << second_->log();
  const std::string holder = get("lease -n kube-system kube-controller-manager", "{.spec.holderIdentity}");
  EXPECT_THAT(first_->log(), HasSubstr("identity=" + holder)) << holder;

  auto node = k("create -f " + second_->file("node.yaml",
                                             "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  allocatable: "
                                             "{cpu: \"8\", memory: 16Gi, pods: \"40\"}\n"));
  ASSERT_EQ(node.exit_code, 0) << node.output;
  auto created = k("create deployment web --image=busybox:1 --replicas=4");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  start_kubelet();
  ASSERT_TRUE(wait_until(60, [&] { return get("deployment web", "{.status.availableReplicas}") == "4"; }))
      << k("get deployment,rs,pods -o wide").output;

  // One new pod at a time (maxSurge 1 of 4 rounds to 1, maxUnavailable 0 keeps 4 available).
  ASSERT_EQ(k(R"(patch deployment web -p '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}')").exit_code, 0);
  ASSERT_EQ(k("set image deployment/web busybox=busybox:2").exit_code, 0);
  ASSERT_TRUE(wait_until(30, [&] {
    const auto updated = get("deployment web", "{.status.updatedReplicas}");
    return !updated.empty() && updated != "0";
  })) << k("get deployment web -o yaml").output;
  // A client of both servers, on the first while it lives.
  auto both =
      client::load_connection(first_->kubeconfig(), "https://127.0.0.1:" + first_->port() + ",https://127.0.0.1:" + second_->port());
  ASSERT_TRUE(both) << both.error();
  client::SharedInformerFactory informers(*both);
  auto& pods = informers.informer<api::Pod>();
  informers.start();
  ASSERT_TRUE(wait_until(10, [&] { return informers.has_synced(); }));
  const auto killed_at = std::chrono::steady_clock::now();
  first_->process().kill_now(SIGKILL);
  ASSERT_EQ(first_->process().wait_exit(5), 128 + SIGKILL);
  const std::string updated_at_kill = get("deployment web", "{.status.updatedReplicas}");

  ASSERT_TRUE(wait_until(40, [&] { return leads(*second_, "kube-controller-manager") && leads(*second_, "kube-scheduler"); }))
      << second_->log();
  const double takeover = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::cout << "the standby leads both Leases " << takeover << " s after the kill -9 (lease duration 15 s, retry period 2 s)\n";
  // The leader renewed at most a retry period before it died; the standby takes over once it has
  // seen the record unchanged for a lease duration, checking every retry period (+20% jitter).
  EXPECT_LT(takeover, 15.0 + 2.4 + 1.0);
  EXPECT_NE(get("lease -n kube-system kube-controller-manager", "{.spec.holderIdentity}"), holder);
  EXPECT_EQ(get("lease -n kube-system kube-controller-manager", "{.spec.leaseTransitions}"), "1");

  auto rollout = k("rollout status deployment/web --timeout=60s");
  EXPECT_EQ(rollout.exit_code, 0) << rollout.output << k("get deployment,rs,pods -o wide").output;
  EXPECT_THAT(rollout.output, HasSubstr("successfully rolled out"));
  // The informer moved to the second server and saw the rollout's end.
  EXPECT_TRUE(wait_until(20, [&] {
    int updated = 0;
    for (const auto& pod : pods.indexer().list())
      if (!pod->spec.containers.empty() && pod->spec.containers[0].image == "busybox:2" && !pod->metadata.deletion_timestamp) ++updated;
    return updated == 4;
  })) << "the informer of both servers did not follow the rollout after the first died";
  std::cout << "updated replicas at the kill: " << updated_at_kill
            << " of 4; after the takeover: " << get("deployment web", "{.status.updatedReplicas}") << " updated, "
            << get("deployment web", "{.status.availableReplicas}") << " available\n";
  EXPECT_EQ(get("deployment web", "{.status.updatedReplicas}"), "4");
  // The old ReplicaSet's last pod goes once its deletion is confirmed (the test's kubelet).
  EXPECT_TRUE(wait_until(20, [&] {
    return get("pods -l app=web", "{range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}") ==
           "busybox:2\nbusybox:2\nbusybox:2\nbusybox:2\n";
  })) << k("get pods -o wide").output;
}

}  // namespace
}  // namespace switchyard::controllers
