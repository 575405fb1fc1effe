#include <gtest/gtest.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {
namespace {

Object decoded(const std::string& text, const std::string& uid = "") {
  auto d = decode_object(nlohmann::json::parse(text));
  EXPECT_TRUE(d) << d.error().message;
  Object o = d->object;
  meta_of(o).uid = uid;
  apply_defaults(o, ClusterNetworkConfig{});
  return o;
}

std::vector<std::string> messages(const Object& o) {
  std::vector<std::string> out;
  for (const auto& e : validate(o, ClusterNetworkConfig{})) out.push_back(e.message());
  return out;
}

const char* kJob = R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi","namespace":"default"},
  "spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})";

TEST(JobDefaults, SelectorAndLabelsAreGeneratedFromTheUid) {
  const Object o = decoded(kJob, "u-1");
  const auto& j = std::get<Job>(o);
  EXPECT_EQ(j.spec.completions, 1);
  EXPECT_EQ(j.spec.parallelism, 1);
  EXPECT_EQ(j.spec.backoff_limit, 6);
  EXPECT_EQ(j.spec.completion_mode, "NonIndexed");
  EXPECT_EQ(j.spec.suspend, false);
  ASSERT_TRUE(j.spec.selector);
  EXPECT_EQ(j.spec.selector->match_labels, (StringMap{{"batch.kubernetes.io/controller-uid", "u-1"}}));
  EXPECT_EQ(j.spec.template_.metadata.labels.at("job-name"), "pi");
  EXPECT_EQ(j.spec.template_.metadata.labels.at("controller-uid"), "u-1");
  EXPECT_EQ(j.metadata.labels.at("batch.kubernetes.io/job-name"), "pi");
  EXPECT_TRUE(messages(o).empty());
  // Round trip through the wire format keeps every field.
  auto again = decode_object(encode_object(o));
  ASSERT_TRUE(again);
  EXPECT_EQ(std::get<Job>(again->object), j);
}

TEST(JobValidation, KubeApiserverMessages) {
  auto o = decoded(kJob, "u-1");
  auto& j = std::get<Job>(o);
  j.spec.template_.spec.restart_policy = "Always";
  j.spec.parallelism = -1;
  j.spec.completion_mode = "Indexed";
  j.spec.completions.reset();
  EXPECT_EQ(messages(o), (std::vector<std::string>{
                             "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                             "spec.completions: Required value: when completion mode is Indexed",
                             "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
                         }));
}

TEST(JobValidation, CompletionsAndSelectorAreImmutable) {
  const auto old = decoded(kJob, "u-1");
  auto now = old;
  std::get<Job>(now).spec.completions = 3;
  std::get<Job>(now).spec.selector->match_labels["x"] = "y";
  std::vector<std::string> got;
  for (const auto& e : validate_update(now, old)) got.push_back(e.message());
  EXPECT_EQ(got, (std::vector<std::string>{"spec.completions: Invalid value: 3: field is immutable",
                                           "spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable"}));
}

const char* kCron = R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"tick","namespace":"default"},
  "spec":{"schedule":"*/1 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure",
  "containers":[{"name":"c","image":"busybox"}]}}}}}})";

TEST(CronJobDefaults, PolicyAndHistoryLimits) {
  const auto o = decoded(kCron);
  const auto& c = std::get<CronJob>(o);
  EXPECT_EQ(c.spec.concurrency_policy, "Allow");
  EXPECT_EQ(c.spec.successful_jobs_history_limit, 3);
  EXPECT_EQ(c.spec.failed_jobs_history_limit, 1);
  EXPECT_EQ(c.spec.suspend, false);
  EXPECT_TRUE(messages(o).empty());
}

TEST(CronJobValidation, ScheduleTimeZoneAndPolicy) {
  auto o = decoded(kCron);
  auto& c = std::get<CronJob>(o);
  c.spec.schedule = "61 * * * *";
  c.spec.time_zone = "Nowhere/Town";
  c.spec.concurrency_policy = "Sometimes";
  EXPECT_EQ(messages(o),
            (std::vector<std::string>{
                "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
                "spec.timeZone: Invalid value: \"Nowhere/Town\": unknown time zone Nowhere/Town",
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
            }));
  c.spec.schedule = "TZ=UTC 0 * * * *";
  c.spec.time_zone.reset();
  c.spec.concurrency_policy = "Forbid";
  EXPECT_EQ(messages(o), (std::vector<std::string>{"spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in "
                                                   "schedule, use timeZone field instead"}));
}

}  // namespace
}  // namespace switchyard::api
