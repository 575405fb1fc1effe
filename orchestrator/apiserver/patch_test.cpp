// RFC 6902 JSON patch (every example of the RFC's appendix A and the error cases), RFC 7386
// merge patch (every example of its appendix A), patch types and the handler's dispatch.
#include <gtest/gtest.h>

#include "orchestrator/apiserver/patch.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

// ---- patch types -----------------------------------------------------------------------------

TEST(PatchType, ParsesTheFourContentTypesWithParametersAndAnyCase) {
  EXPECT_EQ(parse_patch_type("application/json-patch+json"), PatchType::json_patch);
  EXPECT_EQ(parse_patch_type("application/merge-patch+json; charset=utf-8"), PatchType::merge_patch);
  EXPECT_EQ(parse_patch_type(" Application/Strategic-Merge-Patch+JSON "), PatchType::strategic_merge_patch);
  EXPECT_EQ(parse_patch_type("application/apply-patch+yaml"), PatchType::apply_yaml);
  EXPECT_EQ(parse_patch_type("application/json"), std::nullopt);
  EXPECT_EQ(parse_patch_type(""), std::nullopt);
  for (PatchType t : {PatchType::json_patch, PatchType::merge_patch, PatchType::strategic_merge_patch, PatchType::apply_yaml})
    EXPECT_EQ(parse_patch_type(content_type_of(t)), t);
}

// ---- RFC 6902 --------------------------------------------------------------------------------

struct JsonPatchCase {
  const char* name;
  const char* doc;
  const char* patch;
  const char* expected;      // nullptr when the patch must fail
  int status = 0;            // for failures
  const char* message = "";  // the whole error message
};

void PrintTo(const JsonPatchCase& c, std::ostream* os) { *os << c.name; }

class JsonPatchTest : public testing::TestWithParam<JsonPatchCase> {};

std::string case_name(const testing::TestParamInfo<JsonPatchCase>& i) { return i.param.name; }

TEST_P(JsonPatchTest, Applies) {
  const JsonPatchCase& c = GetParam();
  auto r = apply_json_patch(json::parse(c.doc), json::parse(c.patch));
  if (c.expected) {
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(*r, json::parse(c.expected)) << r->dump();
  } else {
    ASSERT_FALSE(r.has_value()) << r->dump();
    EXPECT_EQ(r.error().http_status, c.status) << r.error().message;
    EXPECT_EQ(r.error().message, c.message);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rfc6902AppendixA, JsonPatchTest,
    testing::Values(
        JsonPatchCase{"A1_add_object_member", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
                      R"({"baz":"qux","foo":"bar"})"},
        JsonPatchCase{"A2_add_array_element", R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])",
                      R"({"foo":["bar","qux","baz"]})"},
        JsonPatchCase{"A3_remove_object_member", R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
        JsonPatchCase{"A4_remove_array_element", R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])",
                      R"({"foo":["bar","baz"]})"},
        JsonPatchCase{"A5_replace", R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])",
                      R"({"baz":"boo","foo":"bar"})"},
        JsonPatchCase{"A6_move_value", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                      R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
                      R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
        JsonPatchCase{"A7_move_array_element", R"({"foo":["all","grass","cows","eat"]})",
                      R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])", R"({"foo":["all","cows","eat","grass"]})"},
        JsonPatchCase{"A8_test_success", R"({"baz":"qux","foo":["a",2,"c"]})",
                      R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
                      R"({"baz":"qux","foo":["a",2,"c"]})"},
        JsonPatchCase{"A9_test_error", R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])", nullptr, 422,
                      "testing value /baz failed: test failed"},
        JsonPatchCase{"A10_add_nested_member_object", R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
                      R"({"foo":"bar","child":{"grandchild":{}}})"},
        JsonPatchCase{"A11_ignore_unrecognized_members", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])",
                      R"({"foo":"bar","baz":"qux"})"},
        JsonPatchCase{"A12_add_to_nonexistent_target", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])", nullptr,
                      422, "add operation does not apply: doc is missing path: \"/baz/bat\": missing value"},
        // A.13 (a duplicate "op" member) cannot be expressed once the body is parsed into JSON.
        JsonPatchCase{"A14_escape_ordering", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])", R"({"/":9,"~1":10})"},
        JsonPatchCase{"A15_strings_are_not_numbers", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])", nullptr, 422,
                      "testing value /~01 failed: test failed"},
        JsonPatchCase{"A16_add_array_value", R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
                      R"({"foo":["bar",["abc","def"]]})"}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Operations, JsonPatchTest,
    testing::Values(
        JsonPatchCase{"add_replaces_existing_member", R"({"a":1})", R"([{"op":"add","path":"/a","value":2}])", R"({"a":2})"},
        JsonPatchCase{"add_at_end_index", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/2","value":3}])", R"({"a":[1,2,3]})"},
        JsonPatchCase{"add_root_replaces_document", R"({"a":1})", R"([{"op":"add","path":"","value":[1]}])", "[1]"},
        JsonPatchCase{"add_escaped_keys", R"({})", R"([{"op":"add","path":"/a~1b","value":1},{"op":"add","path":"/m~0n","value":2}])",
                      R"({"a/b":1,"m~n":2})"},
        JsonPatchCase{"add_empty_key", R"({})", R"([{"op":"add","path":"/","value":1}])", R"({"":1})"},
        JsonPatchCase{"add_label_with_slash", R"({"metadata":{"labels":{}}})",
                      R"([{"op":"add","path":"/metadata/labels/app.kubernetes.io~1name","value":"web"}])",
                      R"({"metadata":{"labels":{"app.kubernetes.io/name":"web"}}})"},
        JsonPatchCase{"remove_last_array_element", R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/2"}])", R"({"a":[1,2]})"},
        JsonPatchCase{"replace_array_element", R"({"a":[1,2,3]})", R"([{"op":"replace","path":"/a/0","value":9}])", R"({"a":[9,2,3]})"},
        JsonPatchCase{"replace_root", R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])", R"({"b":2})"},
        JsonPatchCase{"copy_object", R"({"a":{"x":1}})", R"([{"op":"copy","from":"/a","path":"/b"}])", R"({"a":{"x":1},"b":{"x":1}})"},
        JsonPatchCase{"copy_into_array", R"({"a":[1,2],"b":3})", R"([{"op":"copy","from":"/b","path":"/a/0"}])", R"({"a":[3,1,2],"b":3})"},
        JsonPatchCase{"move_to_itself_is_a_no_op", R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a"}])", R"({"a":1})"},
        JsonPatchCase{"move_to_array_end", R"({"a":[1,2,3]})", R"([{"op":"move","from":"/a/0","path":"/a/-"}])", R"({"a":[2,3,1]})"},
        JsonPatchCase{"test_objects_ignore_member_order", R"({"a":{"x":1,"y":[1,{"z":null}]}})",
                      R"([{"op":"test","path":"/a","value":{"y":[1,{"z":null}],"x":1}}])", R"({"a":{"x":1,"y":[1,{"z":null}]}})"},
        JsonPatchCase{"test_integer_equals_float", R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])", R"({"a":1})"},
        JsonPatchCase{"test_whole_document", R"({"a":1})", R"([{"op":"test","path":"","value":{"a":1}}])", R"({"a":1})"},
        JsonPatchCase{"operations_apply_in_order", R"({})",
                      R"([{"op":"add","path":"/a","value":[]},{"op":"add","path":"/a/-","value":1},
                          {"op":"add","path":"/a/0","value":0},{"op":"test","path":"/a","value":[0,1]}])",
                      R"({"a":[0,1]})"},
        JsonPatchCase{"empty_patch_changes_nothing", R"({"a":1})", "[]", R"({"a":1})"}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Errors, JsonPatchTest,
    testing::Values(JsonPatchCase{"patch_not_an_array", R"({})", R"({"op":"add"})", nullptr, 400,
                                  "a JSON patch must be an array of operations, got object"},
                    JsonPatchCase{"operation_not_an_object", R"({})", R"([1])", nullptr, 400, "operation 0 must be an object, got number"},
                    JsonPatchCase{"missing_op", R"({})", R"([{"path":"/a"}])", nullptr, 400, "operation 0 is missing \"op\""},
                    JsonPatchCase{"missing_path", R"({})", R"([{"op":"remove"}])", nullptr, 400, "operation 0 is missing \"path\""},
                    JsonPatchCase{"path_not_a_string", R"({})", R"([{"op":"remove","path":1}])", nullptr, 400,
                                  "operation 0: \"path\" must be a string, got number"},
                    JsonPatchCase{"unknown_op", R"({})", R"([{"op":"merge","path":"/a"}])", nullptr, 422, "Unexpected kind: merge"},
                    JsonPatchCase{"missing_value", R"({})", R"([{"op":"add","path":"/a"}])", nullptr, 400,
                                  "operation 0 (add \"/a\") is missing \"value\""},
                    JsonPatchCase{"null_value_is_a_value", R"({})", R"([{"op":"add","path":"/a","value":null}])", R"({"a":null})"},
                    JsonPatchCase{"missing_from", R"({"a":1})", R"([{"op":"move","path":"/b"}])", nullptr, 400,
                                  "operation 0 is missing \"from\""},
                    JsonPatchCase{"pointer_without_slash", R"({"a":1})", R"([{"op":"remove","path":"a"}])", nullptr, 400,
                                  "operation 0: \"path\": JSON pointer \"a\" must be empty or start with '/'"},
                    JsonPatchCase{"pointer_bad_escape", R"({"a":1})", R"([{"op":"remove","path":"/a~2"}])", nullptr, 400,
                                  "operation 0: \"path\": JSON pointer \"/a~2\" has an invalid escape: '~' must be followed by 0 or 1"},
                    JsonPatchCase{"remove_missing_key", R"({"a":1})", R"([{"op":"remove","path":"/b"}])", nullptr, 422,
                                  "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value"},
                    JsonPatchCase{"remove_out_of_range", R"({"a":[1]})", R"([{"op":"remove","path":"/a/1"}])", nullptr, 422,
                                  "error in remove for path: '/a/1': Unable to access invalid index: 1: invalid index referenced"},
                    JsonPatchCase{"remove_dash", R"({"a":[1]})", R"([{"op":"remove","path":"/a/-"}])", nullptr, 422,
                                  "error in remove for path: '/a/-': value was not a proper array index: '-'"},
                    JsonPatchCase{"replace_missing_key", R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])", nullptr, 422,
                                  "replace operation does not apply: doc is missing key: /b: missing value"},
                    JsonPatchCase{"add_past_array_end", R"({"a":[1]})", R"([{"op":"add","path":"/a/2","value":2}])", nullptr, 422,
                                  "error in add for path: '/a/2': Unable to access invalid index: 2: invalid index referenced"},
                    JsonPatchCase{"add_leading_zero_index", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/01","value":2}])", nullptr, 422,
                                  "error in add for path: '/a/01': value was not a proper array index: '01'"},
                    JsonPatchCase{"add_negative_index", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/-1","value":2}])", nullptr, 422,
                                  "error in add for path: '/a/-1': value was not a proper array index: '-1'"},
                    JsonPatchCase{"add_through_a_scalar", R"({"a":1})", R"([{"op":"add","path":"/a/b","value":2}])", nullptr, 422,
                                  "add operation does not apply: doc is missing path: \"/a/b\": missing value"},
                    JsonPatchCase{"test_missing_path", R"({"a":1})", R"([{"op":"test","path":"/b","value":1}])", nullptr, 422,
                                  "testing value /b failed: test failed"},
                    JsonPatchCase{"move_missing_from", R"({"a":1})", R"([{"op":"move","from":"/x","path":"/b"}])", nullptr, 422,
                                  "move operation does not apply: doc is missing from path: /x: missing value"},
                    JsonPatchCase{"move_into_own_child", R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])", nullptr, 422,
                                  "move operation does not apply: from /a is a prefix of path /a/b/c: a value cannot move into itself"},
                    JsonPatchCase{"copy_missing_from", R"({"a":1})", R"([{"op":"copy","from":"/x","path":"/b"}])", nullptr, 422,
                                  "copy operation does not apply: doc is missing from path: /x: missing value"},
                    JsonPatchCase{"copy_to_missing_destination", R"({"a":1})", R"([{"op":"copy","from":"/a","path":"/x/y"}])", nullptr, 422,
                                  "copy operation does not apply: doc is missing destination path: /x/y: missing value"},
                    JsonPatchCase{"replace_out_of_range", R"({"a":[1]})", R"([{"op":"replace","path":"/a/1","value":2}])", nullptr, 422,
                                  "error in replace for path: '/a/1': Unable to access invalid index: 1: invalid index referenced"},
                    JsonPatchCase{"replace_through_missing_parent", R"({"a":1})", R"([{"op":"replace","path":"/x/y","value":2}])", nullptr,
                                  422, "replace operation does not apply: doc is missing path: /x/y: missing value"},
                    JsonPatchCase{"remove_root", R"({"a":1})", R"([{"op":"remove","path":""}])", nullptr, 422,
                                  "remove operation does not apply: cannot remove the whole document"},
                    JsonPatchCase{"failure_names_the_operation_path", R"({"a":1})",
                                  R"([{"op":"add","path":"/b","value":2},{"op":"remove","path":"/c/d"}])", nullptr, 422,
                                  "remove operation does not apply: doc is missing path: \"/c/d\": missing value"}),
    case_name);

TEST(JsonPatch, FailureLeavesTheInputUntouched) {
  const json doc = json::parse(R"({"a":[1,2]})");
  auto r = apply_json_patch(doc, json::parse(R"([{"op":"remove","path":"/a/0"},{"op":"test","path":"/a","value":[]}])"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(doc, json::parse(R"({"a":[1,2]})"));
}

TEST(JsonPatch, AtMostTenThousandOperations) {
  json patch = json::array();
  for (std::size_t i = 0; i < kMaxJsonPatchOperations; ++i) patch.push_back({{"op", "test"}, {"path", ""}, {"value", 1}});
  EXPECT_TRUE(apply_json_patch(json(1), patch).has_value());
  patch.push_back({{"op", "test"}, {"path", ""}, {"value", 1}});
  auto r = apply_json_patch(json(1), patch);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().http_status, 413);
  EXPECT_EQ(r.error().message, "The allowed maximum operations in a JSON patch is 10000, got 10001");
}

// ---- RFC 7386 --------------------------------------------------------------------------------

struct MergePatchCase {
  const char* doc;
  const char* patch;
  const char* expected;
};

class MergePatchTest : public testing::TestWithParam<MergePatchCase> {};

TEST_P(MergePatchTest, AppendixA) {
  const MergePatchCase& c = GetParam();
  EXPECT_EQ(apply_merge_patch(json::parse(c.doc), json::parse(c.patch)), json::parse(c.expected)) << c.doc << " + " << c.patch;
}

INSTANTIATE_TEST_SUITE_P(Rfc7386, MergePatchTest,
                         testing::Values(MergePatchCase{R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
                                         MergePatchCase{R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
                                         MergePatchCase{R"({"a":"b"})", R"({"a":null})", R"({})"},
                                         MergePatchCase{R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
                                         MergePatchCase{R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
                                         MergePatchCase{R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
                                         MergePatchCase{R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
                                         MergePatchCase{R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
                                         MergePatchCase{R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
                                         MergePatchCase{R"({"a":"b"})", R"(["c"])", R"(["c"])"},
                                         MergePatchCase{R"({"a":"foo"})", "null", "null"},
                                         MergePatchCase{R"({"a":"foo"})", R"("bar")", R"("bar")"},
                                         MergePatchCase{R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
                                         MergePatchCase{R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
                                         MergePatchCase{R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"}));

TEST(MergePatch, KubernetesLabelsSetAndRemovedAndPortsReplaced) {
  json svc = json::parse(R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"}},
                             "spec":{"ports":[{"port":80},{"port":443}]}})");
  json patch = json::parse(R"({"metadata":{"labels":{"tier":null,"team":"a"}},"spec":{"ports":[{"port":8080}]}})");
  EXPECT_EQ(apply_merge_patch(svc, patch), json::parse(R"({"metadata":{"name":"web","labels":{"app":"web","team":"a"}},
                                                          "spec":{"ports":[{"port":8080}]}})"));
}

// ---- dispatch --------------------------------------------------------------------------------

TEST(ApplyPatch, MergePatchMustBeAnObjectForTheServer) {
  auto r = apply_patch(PatchType::merge_patch, json::object(), json::array(), "Service");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(r.error().message, "a merge patch must be a JSON object, got array");
}

TEST(ApplyPatch, DispatchesByType) {
  json doc = json::parse(R"({"spec":{"ports":[{"port":80,"name":"http"}]}})");
  auto jp = apply_patch(PatchType::json_patch, doc, json::parse(R"([{"op":"remove","path":"/spec/ports/0/name"}])"), "Service");
  ASSERT_TRUE(jp.has_value()) << jp.error().message;
  EXPECT_EQ(*jp, json::parse(R"({"spec":{"ports":[{"port":80}]}})"));
  auto smp = apply_patch(PatchType::strategic_merge_patch, doc, json::parse(R"({"spec":{"ports":[{"port":443}]}})"), "Service");
  ASSERT_TRUE(smp.has_value()) << smp.error().message;
  EXPECT_EQ(*smp, json::parse(R"({"spec":{"ports":[{"port":443},{"port":80,"name":"http"}]}})"));
  auto apply = apply_patch(PatchType::apply_yaml, doc, json::object(), "Service");
  ASSERT_FALSE(apply.has_value());
  EXPECT_EQ(apply.error().http_status, 415);
}

}  // namespace
}  // namespace switchyard::apiserver
