#include <gtest/gtest.h>

#include "orchestrator/api/names.h"

namespace switchyard::api {
namespace {

TEST(Names, Dns1123Label) {
  EXPECT_TRUE(dns1123_label("a").empty());
  EXPECT_TRUE(dns1123_label("123-abc").empty());
  EXPECT_FALSE(dns1123_label("-a").empty());
  EXPECT_FALSE(dns1123_label("a-").empty());
  EXPECT_FALSE(dns1123_label("a.b").empty());
  EXPECT_FALSE(dns1123_label("A").empty());
  EXPECT_FALSE(dns1123_label("").empty());
  EXPECT_TRUE(dns1123_label(std::string(63, 'a')).empty());
  auto p = dns1123_label(std::string(64, 'a'));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "must be no more than 63 characters");
}

TEST(Names, Dns1123Subdomain) {
  EXPECT_TRUE(dns1123_subdomain("example.com").empty());
  EXPECT_TRUE(dns1123_subdomain("a-b.c-d.e").empty());
  EXPECT_FALSE(dns1123_subdomain("a..b").empty());
  EXPECT_FALSE(dns1123_subdomain(".a").empty());
  EXPECT_FALSE(dns1123_subdomain("a.").empty());
  EXPECT_FALSE(dns1123_subdomain("a_b").empty());
  EXPECT_EQ(dns1123_subdomain(std::string(254, 'a'))[0], "must be no more than 253 characters");
}

TEST(Names, Dns1035LabelMustStartWithALetter) {
  EXPECT_TRUE(dns1035_label("web-1").empty());
  EXPECT_FALSE(dns1035_label("1web").empty());
}

TEST(Names, QualifiedNames) {
  EXPECT_TRUE(qualified_name("app").empty());
  EXPECT_TRUE(qualified_name("app.kubernetes.io/name").empty());
  EXPECT_TRUE(qualified_name("My_Key.1").empty());
  EXPECT_EQ(qualified_name("/name")[0], "prefix part must be non-empty");
  EXPECT_EQ(qualified_name("example.com/")[0], "name part must be non-empty");
  EXPECT_EQ(qualified_name("Example.com/x")[0].rfind("prefix part a lowercase RFC 1123 subdomain", 0), 0u);
  EXPECT_EQ(qualified_name("a/b/c")[0].rfind("a qualified name must consist of", 0), 0u);
  EXPECT_EQ(qualified_name(std::string(64, 'a'))[0], "name part must be no more than 63 characters");
}

TEST(Names, LabelValues) {
  EXPECT_TRUE(label_value("").empty());
  EXPECT_TRUE(label_value("v1.2_3-x").empty());
  EXPECT_FALSE(label_value("-x").empty());
  EXPECT_FALSE(label_value("a b").empty());
}

TEST(Names, PortNames) {
  EXPECT_TRUE(port_name("http").empty());
  EXPECT_TRUE(port_name("h2c-1").empty());
  EXPECT_EQ(port_name("123")[0], "must contain at least one letter (a-z)");
  EXPECT_EQ(port_name("a--b")[0], "must not contain consecutive hyphens");
  EXPECT_EQ(port_name("-ab")[0], "must not begin or end with a hyphen");
  EXPECT_EQ(port_name("abcdefghijklmnop")[0], "must be no more than 15 characters");
  EXPECT_EQ(port_name("HTTP")[0], "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
}

TEST(Names, PortNumbersIpsAndCidrs) {
  EXPECT_TRUE(port_number(1).empty());
  EXPECT_TRUE(port_number(65535).empty());
  EXPECT_EQ(port_number(0)[0], "must be between 1 and 65535, inclusive");
  EXPECT_FALSE(port_number(65536).empty());
  EXPECT_TRUE(is_ipv4("10.0.0.1"));
  EXPECT_FALSE(is_ipv4("10.0.0.256"));
  EXPECT_TRUE(is_ipv6("fd00::1"));
  EXPECT_FALSE(is_ipv6("::ffff:1.2.3.4"));  // IPv4-mapped is ambiguous, as Kubernetes treats it
  EXPECT_TRUE(cidr("10.0.0.0/8").empty());
  EXPECT_TRUE(cidr("fd00::/64").empty());
  EXPECT_FALSE(cidr("10.0.0.0/33").empty());
  EXPECT_FALSE(cidr("10.0.0.0").empty());
  EXPECT_FALSE(cidr("fd00::/129").empty());
}

TEST(Names, GenerateNameMayEndWithADash) {
  EXPECT_TRUE(name_is_dns1035_label("web-", true).empty());
  EXPECT_FALSE(name_is_dns1035_label("web-", false).empty());
}

}  // namespace
}  // namespace switchyard::api
