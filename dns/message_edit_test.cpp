// Reshaping upstream answers for clients, how long they may be cached, and the cache itself
// (with an injected clock).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/autopath.h"
#include "dns/forward_cache.h"
#include "dns/message_edit.h"
#include "dns/test_messages.h"

namespace switchyard::dns {
namespace {

using testing::decode;
using testing::make_query;

Query parsed(const std::string& name, std::uint16_t type, std::uint16_t id = 0x1234, bool edns = false) {
  auto p = make_query(name, type, id, edns);
  return *parse_query(p);
}

// An upstream-style answer to `q`: our own writer, with EDNS as upstreams answer our EDNS queries.
std::vector<std::uint8_t> upstream_answer(const std::string& name, Rcode rcode, std::uint32_t ttl, bool with_soa, bool edns = true) {
  Query q = parsed(name, kA, 0x0001, edns);
  std::vector<std::uint8_t> buf(4096);
  ResponseWriter w(buf, buf.size());
  w.begin(q, rcode, true);
  if (rcode == kNoError && !with_soa) {
    w.add_a(ResponseWriter::kAnswer, q.name, ttl, {192, 0, 2, 1});
    w.add_a(ResponseWriter::kAnswer, q.name, ttl + 100, {192, 0, 2, 2});
  }
  if (with_soa) w.add_soa(ResponseWriter::kAuthority, "example.test.", 3600, "ns.example.test.", "h.example.test.", 1, 2, 3, 4, ttl);
  auto m = w.finish();
  return {m.begin(), m.end()};
}

TEST(CacheLifetime, PositiveUsesTheSmallestTtlNegativeTheSoaMinimum) {
  auto positive = cache_lifetime(upstream_answer("a.example.test", kNoError, 60, false));
  ASSERT_TRUE(positive);
  EXPECT_EQ(positive->ttl, 60u);
  EXPECT_FALSE(positive->negative);
  auto nx = cache_lifetime(upstream_answer("b.example.test", kNxDomain, 30, true));
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->ttl, 30u);  // min(SOA TTL 3600, MINIMUM 30)
  EXPECT_TRUE(nx->negative);
  auto nodata = cache_lifetime(upstream_answer("c.example.test", kNoError, 45, true));
  ASSERT_TRUE(nodata);
  EXPECT_EQ(nodata->ttl, 45u);
  EXPECT_TRUE(nodata->negative);
  EXPECT_FALSE(cache_lifetime(upstream_answer("d.example.test", kServFail, 0, false)));
  EXPECT_FALSE(cache_lifetime(upstream_answer("e.example.test", kNxDomain, 0, false)));  // no SOA: for how long?
  auto truncated = upstream_answer("f.example.test", kNoError, 60, false);
  truncated[2] |= 0x02;
  EXPECT_FALSE(cache_lifetime(truncated));
}

TEST(ShapeResponse, TakesTheClientsIdQuestionCaseAndAgesTtls) {
  auto upstream = upstream_answer("www.example.test", kNoError, 60, false);
  Query q = parsed("WWW.Example.TEST", kA, 0xBEEF, true);
  std::vector<std::uint8_t> out(4096);
  const std::size_t len = shape_response(upstream, q, 10, out, out.size());
  ASSERT_GT(len, 12u);
  out.resize(len);
  EXPECT_EQ(out[0], 0xBE);
  EXPECT_EQ(out[1], 0xEF);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&out[13]), 3), "WWW");
  auto d = decode(out);
  EXPECT_THAT(d.answer, ::testing::ElementsAre("www.example.test. 50 A 192.0.2.1", "www.example.test. 150 A 192.0.2.2"));
  EXPECT_THAT(d.additional, ::testing::ElementsAre("OPT udp=1232"));
}

TEST(ShapeResponse, DropsOptForClientsWithoutEdnsAndTruncatesWhatDoesNotFit) {
  auto upstream = upstream_answer("www.example.test", kNoError, 60, false);
  Query plain = parsed("www.example.test", kA, 7, false);
  std::vector<std::uint8_t> out(4096);
  std::size_t len = shape_response(upstream, plain, 0, out, 512);
  auto d = decode({out.begin(), out.begin() + static_cast<long>(len)});
  EXPECT_EQ(d.answer.size(), 2u);
  EXPECT_TRUE(d.additional.empty());
  len = shape_response(upstream, plain, 0, out, 40);  // smaller than the answer: question only, TC
  d = decode({out.begin(), out.begin() + static_cast<long>(len)});
  EXPECT_TRUE(d.tc);
  EXPECT_TRUE(d.answer.empty());
}

TEST(ForwardCache, ServesUntilTheTtlThenForgetsAndCapsNegativeTtl) {
  auto now = ForwardCache::Clock::time_point{};
  ForwardCache cache({.capacity = 100, .max_ttl = 3600, .max_negative_ttl = 5}, [&] { return now; });
  Query q = parsed("www.example.test", kA);
  std::vector<std::uint8_t> out(4096);
  EXPECT_EQ(cache.lookup(q, out, out.size()), 0u);
  cache.store(q, upstream_answer("www.example.test", kNoError, 60, false));
  now += std::chrono::seconds(59);
  const std::size_t len = cache.lookup(q, out, out.size());
  ASSERT_GT(len, 0u);
  EXPECT_THAT(decode({out.begin(), out.begin() + static_cast<long>(len)}).answer[0], ::testing::HasSubstr(" 1 A 192.0.2.1"));
  now += std::chrono::seconds(1);
  EXPECT_EQ(cache.lookup(q, out, out.size()), 0u);

  Query nx = parsed("missing.example.test", kA);
  cache.store(nx, upstream_answer("missing.example.test", kNxDomain, 300, true));  // SOA says 300, cap 5
  now += std::chrono::seconds(4);
  EXPECT_GT(cache.lookup(nx, out, out.size()), 0u);
  now += std::chrono::seconds(1);
  EXPECT_EQ(cache.lookup(nx, out, out.size()), 0u);
}

TEST(Autopath, BaseIsWhatPrecedesThePodsFirstSearchDomain) {
  EXPECT_EQ(autopath_base("example.com.shop.svc.cluster.local.", "shop", "cluster.local."), "example.com");
  EXPECT_EQ(autopath_base("web.shop.svc.cluster.local.", "shop", "cluster.local."), "web");
  EXPECT_FALSE(autopath_base("web.other.svc.cluster.local.", "shop", "cluster.local."));
  EXPECT_FALSE(autopath_base("shop.svc.cluster.local.", "shop", "cluster.local."));
  EXPECT_FALSE(autopath_base("web.xshop.svc.cluster.local.", "shop", "cluster.local."));
  EXPECT_FALSE(autopath_base("web.shop.svc.example.com.", "shop", "cluster.local."));
}

}  // namespace
}  // namespace switchyard::dns
