// The small JSON helpers the store's codecs share (store_codec.cpp,
// store_spec_codec.cpp, store_workflows.cpp): RapidJSON reads that fall back
// to a default when a key is missing or of another type, so a row written
// by an older jobd (or hand-edited) reads as the defaults.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace jobd::store_json {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void put(writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

inline rapidjson::Document parse(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  return doc;
}

inline std::string str(const rapidjson::Value& v) {
  return v.IsString() ? std::string{v.GetString(), v.GetStringLength()}
                      : std::string{};
}

inline int64_t int_of(const rapidjson::Value& obj, const char* key,
                      int64_t fallback) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() && i->value.IsInt64() ? i->value.GetInt64()
                                                    : fallback;
}

inline double double_of(const rapidjson::Value& obj, const char* key,
                        double fallback) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() && i->value.IsNumber() ? i->value.GetDouble()
                                                     : fallback;
}

inline bool bool_of(const rapidjson::Value& obj, const char* key,
                    bool fallback) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() && i->value.IsBool() ? i->value.GetBool()
                                                   : fallback;
}

inline std::string str_of(const rapidjson::Value& obj, const char* key) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() ? str(i->value) : std::string{};
}

/// An integer column or member narrowed to int32 without wrapping.
inline int32_t i32(int64_t x) {
  return static_cast<int32_t>(
    std::clamp<int64_t>(x, std::numeric_limits<int32_t>::min(),
                        std::numeric_limits<int32_t>::max()));
}

} // namespace jobd::store_json
