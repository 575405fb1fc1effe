// The READY, STATUS and RESTARTS cells of `kubectl get pods`, computed from the status a kubelet
// writes exactly as kube-apiserver's printer does (pkg/printers/internalversion printPod):
// Init:i/n, Init:<reason>, the last container's waiting or terminated reason (CrashLoopBackOff,
// Completed, Error, ExitCode:N), NotReady, Terminating, and "N (Xs ago)" restarts.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace switchyard::apiserver {

struct PodPrintout {
  std::string ready;     // "1/1"
  std::string status;    // "Running", "Init:0/2", "CrashLoopBackOff", "Terminating", …
  std::string restarts;  // "0", "3 (12s ago)"
};

// `since` turns an RFC 3339 time into the age kubectl shows ("12s").
PodPrintout print_pod(const nlohmann::json& pod, const std::function<std::string(const std::string&)>& since);

}  // namespace switchyard::apiserver
