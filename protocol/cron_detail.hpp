// Internal to the cron engine (protocol/cron.cpp, cron_firings.cpp): the
// day rule both the never-fires check and the firing search use.
#pragma once

#include "protocol/cron.hpp"

#include <date/date.h>

namespace jobd::protocol::detail {

/// The Vixie rule: both day fields restricted: either matches; else both.
inline bool day_matches(const cron_expr& e, const date::year_month_day& ymd,
                        date::weekday wd) {
  bool dom = e.days_of_month[static_cast<unsigned>(ymd.day())];
  bool dow = e.days_of_week[wd.c_encoding()];
  return e.dom_star || e.dow_star ? dom && dow : dom || dow;
}

} // namespace jobd::protocol::detail
