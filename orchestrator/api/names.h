// Name and label syntax checks from k8s.io/apimachinery/pkg/util/validation. Each returns the
// list of problems, in Kubernetes' words; empty means valid.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace switchyard::api {

using Problems = std::vector<std::string>;

Problems dns1123_label(std::string_view s);      // namespaces, port names
Problems dns1123_subdomain(std::string_view s);  // pods, nodes, endpointslices, externalName
Problems dns1035_label(std::string_view s);      // services
Problems qualified_name(std::string_view s);     // label and annotation keys
Problems label_value(std::string_view s);
Problems port_number(std::int64_t port);      // 1..65535
Problems port_name(std::string_view s);       // IANA_SVC_NAME
Problems config_map_key(std::string_view s);  // ConfigMap and Secret keys
Problems ip_address(std::string_view s);
Problems cidr(std::string_view s);

bool is_ipv4(std::string_view s);
bool is_ipv6(std::string_view s);

// A name validator as ValidateObjectMeta uses it: `prefix` checks a generateName (a trailing
// '-' allowed).
using NameValidator = Problems (*)(std::string_view name, bool prefix);
Problems name_is_dns1123_label(std::string_view name, bool prefix);
Problems name_is_dns1123_subdomain(std::string_view name, bool prefix);
Problems name_is_dns1035_label(std::string_view name, bool prefix);

}  // namespace switchyard::api
