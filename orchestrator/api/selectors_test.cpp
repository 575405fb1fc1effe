#include <gtest/gtest.h>

#include "orchestrator/api/selectors.h"

namespace switchyard::api {
namespace {

struct SelectorCase {
  std::string selector;
  StringMap labels;
  bool matches;
};

class LabelSelectorMatch : public ::testing::TestWithParam<SelectorCase> {};

TEST_P(LabelSelectorMatch, MatchesAsKubernetesDoes) {
  const auto& c = GetParam();
  auto s = LabelSelector::parse(c.selector);
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->matches(c.labels), c.matches) << c.selector;
}

INSTANTIATE_TEST_SUITE_P(
    Table, LabelSelectorMatch,
    ::testing::Values(SelectorCase{"", {{"a", "b"}}, true},  // empty selects everything
                      SelectorCase{"a=b", {{"a", "b"}}, true}, SelectorCase{"a==b", {{"a", "b"}}, true},
                      SelectorCase{"a=b", {{"a", "c"}}, false}, SelectorCase{"a=b", {}, false},
                      SelectorCase{"a!=b", {{"a", "c"}}, true}, SelectorCase{"a!=b", {}, true},  // absent key matches !=
                      SelectorCase{"a!=b", {{"a", "b"}}, false},
                      SelectorCase{"a in (x, y)", {{"a", "y"}}, true}, SelectorCase{"a in (x,y)", {{"a", "z"}}, false},
                      SelectorCase{"a in (x,y)", {}, false}, SelectorCase{"a notin (x)", {}, true},
                      SelectorCase{"a notin (x)", {{"a", "x"}}, false}, SelectorCase{"a", {{"a", ""}}, true},
                      SelectorCase{"a", {}, false}, SelectorCase{"!a", {}, true}, SelectorCase{"!a", {{"a", "1"}}, false},
                      SelectorCase{"a=b,c in (d),!e", {{"a", "b"}, {"c", "d"}}, true},
                      SelectorCase{"a=b,c in (d),!e", {{"a", "b"}, {"c", "d"}, {"e", ""}}, false},
                      SelectorCase{"tier>3", {{"tier", "4"}}, true}, SelectorCase{"tier<3", {{"tier", "4"}}, false},
                      SelectorCase{"app.kubernetes.io/name=web", {{"app.kubernetes.io/name", "web"}}, true},
                      SelectorCase{"a in (x,)", {{"a", ""}}, true}));

TEST(LabelSelectorParse, RejectsMalformedSelectorsWithAReason) {
  for (std::string bad : {"a=b,", "a in x", "a in (x", "a in ()", "=b", "a=b c", "a b", "a=(", "bad key=x", "a=b@c",
                          "tier>x"}) {
    auto s = LabelSelector::parse(bad);
    EXPECT_FALSE(s.has_value()) << bad;
    if (!s) EXPECT_FALSE(s.error().message.empty());
  }
}

TEST(LabelSelectorParse, RoundTripsToAString) {
  auto s = LabelSelector::parse("a=b, c notin (y,x) ,!d");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->to_string(), "a=b,c notin (x,y),!d");
}

TEST(LabelSelectorApi, MatchLabelsAndExpressions) {
  auto s = LabelSelector::from_api({{"app", "web"}}, {{"tier", "In", {"fe", "be"}}, {"canary", "DoesNotExist", {}}},
                                   FieldPath("spec.selector"));
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->matches({{"app", "web"}, {"tier", "fe"}}));
  EXPECT_FALSE(s->matches({{"app", "web"}, {"tier", "fe"}, {"canary", "1"}}));
  EXPECT_FALSE(s->matches({{"app", "web"}, {"tier", "db"}}));
}

TEST(LabelSelectorApi, ErrorsNameTheField) {
  auto s = LabelSelector::from_api({}, {{"tier", "In", {}}, {"x", "Near", {}}}, FieldPath("spec.selector"));
  ASSERT_FALSE(s);
  ASSERT_EQ(s.error().size(), 2u);
  EXPECT_EQ(s.error()[0].message(),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'");
  EXPECT_EQ(s.error()[1].message(), "spec.selector.matchExpressions[1].operator: Invalid value: \"Near\": not a valid selector operator");
}

TEST(LabelSelector, NothingMatchesNothing) {
  EXPECT_FALSE(LabelSelector::nothing().matches({}));
  EXPECT_TRUE(LabelSelector().matches({}));
}

TEST(FieldSelector, NameAndNamespace) {
  const std::vector<std::string_view> supported{"metadata.name", "metadata.namespace"};
  auto s = FieldSelector::parse("metadata.name=web,metadata.namespace!=kube-system", supported);
  ASSERT_TRUE(s) << s.error();
  ObjectMeta m;
  m.name = "web";
  m.namespace_ = "default";
  EXPECT_TRUE(s->matches(object_meta_fields(m, true)));
  m.namespace_ = "kube-system";
  EXPECT_FALSE(s->matches(object_meta_fields(m, true)));
  auto eq = FieldSelector::parse("metadata.name==a\\,b", supported);
  ASSERT_TRUE(eq);
  m.name = "a,b";
  EXPECT_TRUE(eq->matches(object_meta_fields(m, true)));
}

TEST(FieldSelector, RejectsUnsupportedFieldsAndNonsense) {
  const std::vector<std::string_view> supported{"metadata.name"};
  auto s = FieldSelector::parse("spec.nodeName=n1", supported);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "field label not supported: spec.nodeName");
  EXPECT_FALSE(FieldSelector::parse("metadata.name", supported));
  EXPECT_FALSE(FieldSelector::parse("metadata.name=a\\x", supported));
}

}  // namespace
}  // namespace switchyard::api
