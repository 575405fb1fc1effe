// Query parsing (including what malformed input gets) and response writing with compression
// and truncation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/test_messages.h"
#include "dns/wire.h"

namespace switchyard::dns {
namespace {

using testing::decode;
using testing::make_query;

TEST(ParseQuery, ReadsQuestionLowercasedAndEdns) {
  auto p = make_query("Web.Shop.SVC.cluster.local", kA, 0xBEEF, true, 4096);
  auto q = parse_query(p);
  ASSERT_TRUE(q) << q.error().reason;
  EXPECT_EQ(q->id, 0xBEEF);
  EXPECT_EQ(q->name, "web.shop.svc.cluster.local.");
  EXPECT_EQ(q->original_name, "Web.Shop.SVC.cluster.local.");
  EXPECT_EQ(q->type, kA);
  EXPECT_TRUE(q->edns);
  EXPECT_EQ(q->udp_payload, 4096);
  EXPECT_TRUE(q->recursion_desired());
}

struct Malformed {
  std::string name;
  std::vector<std::uint8_t> packet;
  bool answerable;
  Rcode rcode;
};

TEST(ParseQuery, MalformedQueriesGetFormErrOrAreDropped) {
  auto good = make_query("a.b", kA);
  auto truncated = good;
  truncated.resize(good.size() - 3);
  auto loop = std::vector<std::uint8_t>{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};  // points at itself
  auto forward = std::vector<std::uint8_t>{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 1, 0, 1};
  auto many = good;
  many[4] = 0xFF;  // 65,000 questions
  auto answers = good;
  answers[7] = 3;
  auto notify = good;
  notify[2] = 0x20;  // opcode 4
  auto response = good;
  response[2] |= 0x80;
  auto long_label = make_query(std::string(64, 'a') + ".b", kA);
  auto trailing = good;
  trailing.push_back(0);
  for (const auto& c : std::vector<Malformed>{{"short header", {1, 2, 3}, false, kFormErr},
                                              {"truncated question", truncated, true, kFormErr},
                                              {"compression loop", loop, true, kFormErr},
                                              {"forward pointer", forward, true, kFormErr},
                                              {"absurd question count", many, true, kFormErr},
                                              {"answers in a query", answers, true, kFormErr},
                                              {"wrong opcode", notify, true, kNotImp},
                                              {"a response", response, false, kFormErr},
                                              {"label over 63", long_label, true, kFormErr},
                                              {"trailing bytes", trailing, true, kFormErr}}) {
    auto q = parse_query(c.packet);
    ASSERT_FALSE(q.has_value()) << c.name;
    EXPECT_EQ(q.error().answerable, c.answerable) << c.name;
    if (c.answerable) EXPECT_EQ(q.error().rcode, c.rcode) << c.name;
  }
}

TEST(ResponseWriter, CompressesNamesAndRoundTrips) {
  auto q = *parse_query(make_query("web.shop.svc.cluster.local", kSRV));
  std::vector<std::uint8_t> buf(512);
  ResponseWriter w(buf, buf.size());
  w.begin(q, kNoError, true);
  EXPECT_TRUE(w.add_srv(0, "web.shop.svc.cluster.local.", 5, 0, 100, 80, "web.shop.svc.cluster.local."));
  EXPECT_TRUE(w.add_name_record(1, "cluster.local.", kNS, 5, "ns.dns.cluster.local."));
  EXPECT_TRUE(w.add_a(2, "web.shop.svc.cluster.local.", 5, {10, 96, 0, 10}));
  EXPECT_FALSE(w.add_a(0, "late.answer.", 5, {10, 0, 0, 1}));  // sections go in order
  auto out = w.finish();
  std::vector<std::uint8_t> msg(out.begin(), out.end());
  auto d = decode(msg);
  EXPECT_EQ(d.rcode, 0);
  EXPECT_TRUE(d.aa);
  EXPECT_THAT(d.answer, ::testing::ElementsAre("web.shop.svc.cluster.local. 5 SRV 0 100 80 web.shop.svc.cluster.local."));
  EXPECT_THAT(d.authority, ::testing::ElementsAre("cluster.local. 5 NS ns.dns.cluster.local."));
  EXPECT_THAT(d.additional, ::testing::ElementsAre("web.shop.svc.cluster.local. 5 A 10.96.0.10"));
  // Question 12+28+4; the A owner is a 2-byte pointer, as is the NS owner: compression worked.
  EXPECT_LT(msg.size(), 150u);
}

TEST(ResponseWriter, ReusedBufferNeverYieldsPointersIntoStaleBytes) {
  // Found with dig: a reused buffer held an old answer whose bytes after "shop" looked like
  // "cluster.local", and the question compressed against itself.
  std::vector<std::uint8_t> buf(512);
  ResponseWriter w(buf, buf.size());
  auto first = *parse_query(make_query("web.shop.svc.cluster.local", kA));
  w.begin(first, kNoError, true);
  w.add_a(0, "web.shop.svc.cluster.local.", 5, {10, 96, 0, 10});
  w.finish();
  auto second = *parse_query(make_query("web.shop.cluster.local", kA));
  w.begin(second, kNxDomain, true);
  w.add_soa(1, "cluster.local.", 5, "ns.dns.cluster.local.", "hostmaster.cluster.local.", 1, 2, 3, 4, 5);
  auto out = w.finish();
  std::vector<std::uint8_t> msg(out.begin(), out.end());
  std::size_t at = 12;
  std::string name;
  ASSERT_TRUE(read_name(msg, at, name));
  EXPECT_EQ(name, "web.shop.cluster.local.");
  EXPECT_THAT(decode(msg).authority,
              ::testing::ElementsAre("cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 2 3 4 5"));
}

TEST(ResponseWriter, TruncatesWholeRecordsAndSetsTc) {
  auto q = *parse_query(make_query("many.shop.svc.cluster.local", kA));
  std::vector<std::uint8_t> buf(4096);
  ResponseWriter w(buf, 512);
  w.begin(q, kNoError, true);
  int added = 0;
  for (int i = 0; i < 100; ++i) added += w.add_a(0, "many.shop.svc.cluster.local.", 5, {10, 1, 0, static_cast<std::uint8_t>(i)});
  auto out = w.finish();
  EXPECT_LE(out.size(), 512u);
  EXPECT_TRUE(w.truncated());
  auto d = decode(std::vector<std::uint8_t>(out.begin(), out.end()));
  EXPECT_TRUE(d.tc);
  EXPECT_EQ(static_cast<int>(d.answer.size()), added);
  EXPECT_GT(added, 20);
}

TEST(ResponseWriter, EdnsQueriesGetAnOptRecord) {
  auto q = *parse_query(make_query("x.cluster.local", kA, 1, true, 1232));
  std::vector<std::uint8_t> buf(1232);
  ResponseWriter w(buf, q.udp_payload);
  w.begin(q, kNxDomain, true);
  auto out = w.finish();
  auto d = decode(std::vector<std::uint8_t>(out.begin(), out.end()));
  EXPECT_EQ(d.rcode, kNxDomain);
  EXPECT_THAT(d.additional, ::testing::ElementsAre("OPT udp=1232"));
}

}  // namespace
}  // namespace switchyard::dns
