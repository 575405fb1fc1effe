// The address the API server publishes as the `kubernetes` Service's endpoint (kube-apiserver's
// --advertise-address): given, else the listen address when it is a specific routable one, else
// the address of the interface that carries the default route (kube-apiserver's default).
#pragma once

#include <string>

#include "orchestrator/base/error.h"

namespace switchyard::cmd {

// The first global IPv4 address of the interface holding the IPv4 default route of lowest metric
// (from /proc/net/route, as seen in this network namespace).
Result<std::string> default_route_ipv4();

// `given` (checked to be an IP), else from `listen_host` as above; empty when the API server
// listens on loopback only: nothing outside this host could reach an endpoint then.
Result<std::string> choose_advertise_address(const std::string& given, const std::string& listen_host);

}  // namespace switchyard::cmd
