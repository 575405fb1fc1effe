// The model (nft_model.h) as libnftnl messages appended to a NetlinkBatch. Addresses are parsed
// here; a malformed one is an error naming the object.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "dataplane/backend.h"
#include "dataplane/iptables/netlink_batch.h"
#include "dataplane/iptables/nft_model.h"

namespace switchyard::dataplane::nft {

class NftEncoder {
 public:
  NftEncoder(NetlinkBatch& batch, IpFamily family, std::string table) : batch_(batch), family_(family), table_(std::move(table)) {}

  void add_table();
  void delete_table();
  void add_chain(const Chain& chain);  // the chain only, empty
  void flush_chain(const std::string& name);
  void delete_chain(const std::string& name);
  void add_set(const Set& set);
  void delete_set(const std::string& name);
  Result<void> add_rules(const Chain& chain);
  Result<void> add_elements(const std::vector<const Element*>& elements);
  Result<void> delete_elements(const std::vector<const Element*>& elements);

 private:
  Result<void> add_rule(const std::string& chain, const Rule& rule);
  Result<void> elements_message(std::uint16_t type, const std::vector<const Element*>& elements);
  std::uint16_t nfproto() const;

  NetlinkBatch& batch_;
  IpFamily family_;
  std::string table_;
};

}  // namespace switchyard::dataplane::nft
