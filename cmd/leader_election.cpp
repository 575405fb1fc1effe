#include "cmd/leader_election.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "node/agent_config.h"
#include "orchestrator/client/informer_factory.h"

namespace switchyard::cmd {

namespace {

std::string check_duration(const std::string& v) {
  auto d = node::parse_go_duration(v);
  if (!d) return d.error().message;
  return d->count() > 0 ? std::string() : "must be greater than zero";
}

}  // namespace

void add_leader_election_flags(CLI::App* sub, LeaderElectionFlags& flags, const std::string& lease_name) {
  flags.resource_name = lease_name;
  sub->add_flag("--leader-elect", flags.enabled,
                "run only while holding the leader Lease, so that several replicas can run with one active (--leader-elect=false: always)")
      ->capture_default_str();
  sub->add_option("--leader-elect-lease-duration", flags.lease_duration,
                  "how long standbys wait after the leader's last renewal before taking over (Go duration)")
      ->check(check_duration)
      ->capture_default_str();
  sub->add_option("--leader-elect-renew-deadline", flags.renew_deadline,
                  "how long the leader retries renewing before it stops leading (Go duration, below the lease duration)")
      ->check(check_duration)
      ->capture_default_str();
  sub->add_option("--leader-elect-retry-period", flags.retry_period, "time between attempts to acquire or renew (Go duration)")
      ->check(check_duration)
      ->capture_default_str();
  if (lease_name.empty()) return;
  sub->add_option("--leader-elect-resource-name", flags.resource_name, "the Lease's name")->capture_default_str();
  sub->add_option("--leader-elect-resource-namespace", flags.resource_namespace, "the Lease's namespace")->capture_default_str();
}

client::LeaderElectionConfig leader_election_config(const LeaderElectionFlags& flags, const std::string& name) {
  client::LeaderElectionConfig c;
  c.lease_namespace = flags.resource_namespace;
  c.lease_name = name.empty() ? flags.resource_name : name;
  c.identity = client::default_leader_identity();
  c.lease_duration = node::parse_go_duration(flags.lease_duration).value_or(c.lease_duration);
  c.renew_deadline = node::parse_go_duration(flags.renew_deadline).value_or(c.renew_deadline);
  c.retry_period = node::parse_go_duration(flags.retry_period).value_or(c.retry_period);
  return c;
}

struct ElectedComponent::Term {
  std::unique_ptr<client::SharedInformerFactory> informers;
  std::function<void()> stop;
};

ElectedComponent::ElectedComponent(client::ClusterConnection connection, client::LeaderElectionConfig config, std::string name,
                                   ComponentStart start)
    : connection_(std::move(connection)), name_(std::move(name)), start_(std::move(start)) {
  elector_ = std::make_unique<client::LeaderElector>(
      connection_, std::move(config),
      [this] {
        auto term = std::make_unique<Term>();
        term->informers = std::make_unique<client::SharedInformerFactory>(connection_);
        auto stop = start_(*term->informers);
        if (!stop) {
          spdlog::error("event=component_start_failed component={} error=\"{}\"", name_, stop.error().describe());
          return;
        }
        term->stop = std::move(*stop);
        term_ = std::move(term);
        spdlog::info("event=component_started component={} reason=leader_elected", name_);
      },
      [this] {
        if (!term_) return;
        term_->stop();
        term_->informers->stop();
        term_.reset();
        spdlog::info("event=component_stopped component={} reason=not_leading", name_);
      });
  elector_->start();
}

ElectedComponent::~ElectedComponent() { stop(); }

void ElectedComponent::stop() {
  if (elector_) elector_->stop();
}

bool ElectedComponent::leading() const { return elector_ && elector_->leading(); }

}  // namespace switchyard::cmd
