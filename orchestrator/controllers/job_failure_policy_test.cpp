// podFailurePolicy: the wire format, the API server's validation messages, and rule matching,
// as tables.
#include "orchestrator/controllers/job_failure_policy.h"

#include <gtest/gtest.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/validation.h"

namespace switchyard::controllers {
namespace {

using nlohmann::json;

api::Job decode_job(const std::string& policy, const std::string& extra_spec = "") {
  const json j = json::parse(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi","namespace":"ns","uid":"u1"},"spec":{)" +
                             extra_spec + R"("podFailurePolicy":)" + policy +
                             R"(,"template":{"spec":{"restartPolicy":"Never","initContainers":[{"name":"setup","image":"busybox"}],)"
                             R"("containers":[{"name":"main","image":"busybox"}]}}}})");
  auto d = api::decode_object(j);
  EXPECT_TRUE(d) << (d ? "" : d.error().message);
  if (!d) return {};
  EXPECT_TRUE(d->unknown_fields.empty()) << d->unknown_fields.front();
  api::Job job = std::get<api::Job>(d->object);
  api::apply_defaults(job);
  return job;
}

TEST(PodFailurePolicyWire, TypedFieldsRoundTripInUpstreamsShape) {
  const std::string policy = R"({"rules":[{"action":"FailJob","onExitCodes":{"containerName":"main","operator":"In","values":[1,42]}},)"
                             R"({"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]}]})";
  const api::Job job = decode_job(policy);
  const auto typed = api::pod_failure_policy(job.spec);
  ASSERT_TRUE(typed);
  const auto& rules = typed->rules;
  ASSERT_EQ(rules.size(), 2U);
  EXPECT_EQ(rules[0].on_exit_codes->values, (std::vector<std::int32_t>{1, 42}));
  EXPECT_EQ(rules[1].on_pod_conditions[0].type, "DisruptionTarget");
  EXPECT_EQ(api::encode_object(job)["spec"]["podFailurePolicy"], json::parse(policy));
  // With a policy the pods are replaced only once they failed (upstream's default).
  EXPECT_EQ(job.spec.pod_replacement_policy, "Failed");
}

TEST(PodFailurePolicyWire, UnknownFieldsAndWrongTypesAreReportedUnderTheirPath) {
  const auto unknown = api::decode_object(json::parse(
      R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi"},"spec":{"podFailurePolicy":{"rules":[{"action":"Count",)"
      R"("onExitCodes":{"operator":"In","values":[1],"exitCode":2}}]},"template":{"spec":{"containers":[]}}}})"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->unknown_fields, std::vector<std::string>{"spec.podFailurePolicy.rules[0].onExitCodes.exitCode"});
  const auto wrong = api::decode_object(json::parse(
      R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi"},"spec":{"podFailurePolicy":{"rules":[{"action":"Count",)"
      R"("onExitCodes":{"operator":"In","values":"1"}}]}}})"));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("spec.podFailurePolicy.rules[0].onExitCodes.values"), std::string::npos) << wrong.error().message;
}

struct ValidationCase {
  const char* name;
  std::string policy, extra_spec;
  std::vector<std::string> messages;
};

class PodFailurePolicyValidation : public ::testing::TestWithParam<ValidationCase> {};

TEST_P(PodFailurePolicyValidation, RealServersFieldPathsAndMessages) {
  const auto& c = GetParam();
  api::Job job = decode_job(c.policy, c.extra_spec);
  job.metadata.labels.clear();
  std::vector<std::string> got;
  for (const auto& e : api::validate(job))
    if (e.field.starts_with("spec.podFailurePolicy") || e.field.starts_with("spec.podReplacementPolicy")) got.push_back(e.message());
  EXPECT_EQ(got, c.messages);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodFailurePolicyValidation,
    ::testing::Values(
        ValidationCase{"Valid", R"({"rules":[{"action":"Count","onExitCodes":{"operator":"NotIn","values":[0]}}]})", "", {}},
        ValidationCase{
            "UnknownAction",
            R"({"rules":[{"action":"Explode","onExitCodes":{"operator":"In","values":[1]}}]})",
            "",
            {R"(spec.podFailurePolicy.rules[0].action: Unsupported value: "Explode": supported values: "Count", "FailIndex", "FailJob", "Ignore")"}},
        ValidationCase{
            "MissingAction",
            R"({"rules":[{"onPodConditions":[{"type":"DisruptionTarget","status":"True"}]}]})",
            "",
            {R"(spec.podFailurePolicy.rules[0].action: Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"])"}},
        ValidationCase{
            "FailIndexNeedsBackoffLimitPerIndex",
            R"({"rules":[{"action":"FailIndex","onExitCodes":{"operator":"In","values":[3]}}]})",
            "",
            {R"(spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set)"}},
        ValidationCase{
            "ExitCodeProblems",
            R"({"rules":[{"action":"Ignore","onExitCodes":{"containerName":"other","operator":"In","values":[0,5,5,2]}}]})",
            "",
            {R"(spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "other": must be one of the container or initContainer names in the pod template)",
             "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
             "spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 5",
             "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{0, 5, 5, 2}: must be ordered"}},
        ValidationCase{
            "OperatorAndValues",
            R"({"rules":[{"action":"Ignore","onExitCodes":{"containerName":"setup","operator":"Between","values":[]}}]})",
            "",
            {R"(spec.podFailurePolicy.rules[0].onExitCodes.operator: Unsupported value: "Between": supported values: "In", "NotIn")",
             "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{}: at least one value is required"}},
        ValidationCase{
            "ConditionStatus",
            R"({"rules":[{"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"Maybe"}]}]})",
            "",
            {R"(spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown")"}},
        ValidationCase{"NeitherRequirement",
                       R"({"rules":[{"action":"Ignore"}]})",
                       "",
                       {"spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required"}},
        ValidationCase{
            "BothRequirements",
            R"({"rules":[{"action":"Ignore","onExitCodes":{"operator":"In","values":[1]},"onPodConditions":[{"type":"A","status":"True"}]}]})",
            "",
            {"spec.podFailurePolicy.rules[0]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"}},
        ValidationCase{"ReplacementPolicyMustBeFailed",
                       R"({"rules":[{"action":"Count","onExitCodes":{"operator":"In","values":[1]}}]})",
                       R"("podReplacementPolicy":"TerminatingOrFailed",)",
                       {R"(spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed")"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PodFailurePolicyValidation, OnlyNeverRestartsWithAPolicy) {
  api::Job job = decode_job(R"({"rules":[{"action":"Count","onExitCodes":{"operator":"In","values":[1]}}]})");
  job.spec.template_.spec.restart_policy = "OnFailure";
  bool found = false;
  for (const auto& e : api::validate(job))
    found |=
        e.message() ==
        R"(spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified)";
  EXPECT_TRUE(found);
}

api::Pod failed_pod(const std::string& statuses, const std::vector<api::PodCondition>& conditions = {},
                    const std::string& init_statuses = "") {
  api::Pod p;
  p.metadata.name = "pi-abc";
  p.metadata.namespace_ = "ns";
  p.status.phase = "Failed";
  if (!statuses.empty()) p.status.passthrough["containerStatuses"] = statuses;
  if (!init_statuses.empty()) p.status.passthrough["initContainerStatuses"] = init_statuses;
  p.status.conditions = conditions;
  return p;
}

std::string exited(const std::string& name, int code) {
  return R"({"name":")" + name + R"(","state":{"terminated":{"exitCode":)" + std::to_string(code) + "}}}";
}

struct MatchCase {
  const char* name;
  std::string policy;
  api::Pod pod;
  std::string action, message;
};

class PodFailurePolicyMatch : public ::testing::TestWithParam<MatchCase> {};

TEST_P(PodFailurePolicyMatch, FirstMatchingRuleDecides) {
  const auto& c = GetParam();
  const api::Job job = decode_job(c.policy, R"("completionMode":"Indexed","completions":3,"backoffLimitPerIndex":1,)");
  const auto policy = api::pod_failure_policy(job.spec);
  ASSERT_TRUE(policy);
  const auto d = match_pod_failure_policy(&*policy, c.pod);
  EXPECT_EQ(d.action, c.action);
  EXPECT_EQ(d.message, c.message);
  EXPECT_EQ(d.counts(), c.action != "Ignore");
}

const std::string kRules = R"({"rules":[{"action":"FailJob","onExitCodes":{"containerName":"main","operator":"In","values":[42]}},)"
                           R"({"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]},)"
                           R"({"action":"FailIndex","onExitCodes":{"operator":"In","values":[3]}},)"
                           R"({"action":"Count","onExitCodes":{"operator":"NotIn","values":[1,2]}}]})";

INSTANTIATE_TEST_SUITE_P(
    Table, PodFailurePolicyMatch,
    ::testing::Values(MatchCase{"ExitCodeInFailsTheJob", kRules, failed_pod("[" + exited("main", 42) + "]"), "FailJob",
                                "Container main for pod ns/pi-abc failed with exit code 42 matching FailJob rule at index 0"},
                      // The same code in another container skips rule 0 and lands on the NotIn rule.
                      MatchCase{"ContainerNameMustMatch", kRules, failed_pod("[" + exited("side", 42) + "]"), "Count", ""},
                      MatchCase{
                          "DisruptionIsIgnored", kRules,
                          failed_pod("[" + exited("main", 137) + "]", {{"DisruptionTarget", "True", "", "", "EvictionByEvictionAPI", ""}}),
                          "Ignore", ""},
                      MatchCase{"ConditionStatusMustMatch", kRules,
                                failed_pod("[" + exited("main", 1) + "]", {{"DisruptionTarget", "False", "", "", "", ""}}), "", ""},
                      MatchCase{"InitContainerExitCode", kRules, failed_pod("", {}, "[" + exited("setup", 3) + "]"), "FailIndex", ""},
                      MatchCase{"NotInMatchesOtherCodes", kRules, failed_pod("[" + exited("main", 7) + "]"), "Count", ""},
                      MatchCase{"NoRuleMatches", kRules, failed_pod("[" + exited("main", 2) + "]"), "", ""},
                      // Exit code 0 and containers still running never match an exit-code rule.
                      MatchCase{"ZeroAndRunningNeverMatch", kRules,
                                failed_pod("[" + exited("main", 0) + R"(,{"name":"x","state":{"running":{}}}])"), "", ""},
                      MatchCase{"ConditionFailJobMessage",
                                R"({"rules":[{"action":"FailJob","onPodConditions":[{"type":"ConfigIssue","status":"True"}]}]})",
                                failed_pod("", {{"ConfigIssue", "True", "", "", "", ""}}), "FailJob",
                                "Pod ns/pi-abc has condition ConfigIssue matching FailJob rule at index 0"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PodFailurePolicyMatch, NoPolicyCountsEveryFailure) {
  const auto d = match_pod_failure_policy(nullptr, failed_pod("[" + exited("main", 42) + "]"));
  EXPECT_EQ(d.action, "");
  EXPECT_TRUE(d.counts());
}

TEST(IndexFailureCount, ReadsTheAnnotation) {
  api::Pod p;
  EXPECT_EQ(index_failure_count(p), 0);
  p.metadata.annotations[kJobIndexFailureCountAnnotation] = "2";
  EXPECT_EQ(index_failure_count(p), 2);
  p.metadata.annotations[kJobIndexFailureCountAnnotation] = "x";
  EXPECT_EQ(index_failure_count(p), 0);
}

}  // namespace
}  // namespace switchyard::controllers
