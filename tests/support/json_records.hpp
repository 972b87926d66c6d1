// json_records.hpp - the records of one kind in an fsc --json document.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace fsc::test {

/// The elements of doc["records"] whose "record" is kind, in order.
inline nlohmann::json records(const nlohmann::json& doc, std::string_view kind)
{
  nlohmann::json out = nlohmann::json::array();
  for (auto& r : doc.at("records"))
    if (r.at("record") == kind)
      out.push_back(r);
  return out;
}

} // namespace fsc::test
