// Applies strategic merge patches read as JSON lines {"kind","doc","patch"} from stdin and prints
// one result (or {"error": message}) per line. Used by the differential tests against kubectl
// (tools/smp_differential_*.py); built on demand: ninja -C build smp_cli
#include <iostream>
#include "orchestrator/apiserver/patch.h"
using nlohmann::json;
int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    json c = json::parse(line);
    auto r = switchyard::apiserver::apply_strategic_merge_patch(c["doc"], c["patch"], c["kind"].get<std::string>());
    std::cout << (r ? *r : json{{"error", r.error().message}}).dump() << "\n";
  }
}
