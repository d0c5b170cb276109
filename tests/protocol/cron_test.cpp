// The cron engine: every field's bounds, names, steps and lists, the Vixie
// day rule, @shorthands, calendar edges, DST gaps and repeats in several
// zones, far instants, and hostile expressions.
#include "protocol/cron.hpp"

#include <date/date.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace jobd::protocol;

namespace {

// An instant in UTC, ms since the epoch.
int64_t utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
  using namespace std::chrono;
  auto t = date::sys_days{date::year{y} / mo / d} + hours{h} + minutes{mi};
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

cron_expr cron_of(const std::string& text) {
  cron_expr e;
  std::string err;
  EXPECT_TRUE(parse_cron(text, e, err)) << text << ": " << err;
  return e;
}

std::string error_of(const std::string& text) {
  cron_expr e;
  std::string err;
  EXPECT_FALSE(parse_cron(text, e, err)) << text << " was accepted";
  return err;
}

cron_zone zone(const std::string& name) {
  cron_zone z;
  std::string err;
  EXPECT_TRUE(find_zone(name, z, err)) << name << ": " << err;
  return z;
}

std::vector<int64_t> firings(const std::string& expr, const std::string& tz,
                             int64_t after, size_t n) {
  return next_n(cron_of(expr), zone(tz), after, n);
}

constexpr int64_t minute = 60000;
constexpr int64_t hour = 60 * minute;

} // namespace

// -- fields
// --------------------------------------------------------------------

TEST(cron, every_field_accepts_its_bounds_and_refuses_one_past) {
  auto e = cron_of("0,59 0,23 1,31 1,12 0,6");
  EXPECT_TRUE(e.minutes[0] && e.minutes[59]);
  EXPECT_EQ(e.minutes.count(), 2u);
  EXPECT_TRUE(e.hours[0] && e.hours[23]);
  EXPECT_TRUE(e.days_of_month[1] && e.days_of_month[31]);
  EXPECT_FALSE(e.days_of_month[0]);
  EXPECT_TRUE(e.months[1] && e.months[12]);
  EXPECT_TRUE(e.days_of_week[0] && e.days_of_week[6]);
  EXPECT_EQ(error_of("60 * * * *"), "cron: minute 60 out of range 0-59");
  EXPECT_EQ(error_of("61 * * * *"), "cron: minute 61 out of range 0-59");
  EXPECT_EQ(error_of("* 24 * * *"), "cron: hour 24 out of range 0-23");
  EXPECT_EQ(error_of("* * 0 * *"), "cron: day-of-month 0 out of range 1-31");
  EXPECT_EQ(error_of("* * 32 * *"), "cron: day-of-month 32 out of range 1-31");
  EXPECT_EQ(error_of("* * * 0 *"), "cron: month 0 out of range 1-12");
  EXPECT_EQ(error_of("* * * 13 *"), "cron: month 13 out of range 1-12");
  EXPECT_EQ(error_of("* * * * 8"), "cron: day-of-week 8 out of range 0-7");
  EXPECT_EQ(error_of("-1 * * * *"), "cron: minute is missing a value");
}

TEST(cron, seven_and_zero_are_both_sunday) {
  EXPECT_EQ(cron_of("0 0 * * 7").days_of_week,
            cron_of("0 0 * * 0").days_of_week);
  EXPECT_EQ(cron_of("0 0 * * 5-7").days_of_week.to_string(), "1100001");
  // 2024-06-02 was a Sunday.
  EXPECT_EQ(firings("0 0 * * 7", "UTC", utc(2024, 5, 30), 1)[0],
            utc(2024, 6, 2));
}

TEST(cron, names_in_any_case_where_numbers_may_stand) {
  EXPECT_EQ(cron_of("0 0 * JAN-MAR,dec *").months.to_string(),
            cron_of("0 0 * 1-3,12 *").months.to_string());
  EXPECT_EQ(cron_of("0 0 * * Mon-fri").days_of_week.to_string(), "0111110");
  EXPECT_EQ(cron_of("0 0 * * SUN,sat").days_of_week.to_string(), "1000001");
  EXPECT_EQ(cron_of("0 0 * feb-feb/1 *").months.count(), 1u);
  EXPECT_EQ(error_of("0 0 * JANUARY *"),
            "cron: month value 'JANUARY' is not a number or a name");
  EXPECT_EQ(error_of("MON 0 * * *"),
            "cron: minute value 'MON' is not a number");
  EXPECT_EQ(error_of("0 0 JAN * *"),
            "cron: day-of-month value 'JAN' is not a number");
  EXPECT_EQ(error_of("0 0 * * FOO"),
            "cron: day-of-week value 'FOO' is not a number or a name");
}

TEST(cron, steps_ranges_and_lists) {
  auto e = cron_of("*/15 1-23/5 */10 2-12/3 */2");
  EXPECT_EQ(e.minutes.count(), 4u);
  EXPECT_TRUE(e.minutes[0] && e.minutes[15] && e.minutes[30] && e.minutes[45]);
  std::bitset<24> h;
  for (int i : {1, 6, 11, 16, 21})
    h.set(i);
  EXPECT_EQ(e.hours, h);
  std::bitset<32> d;
  for (int i : {1, 11, 21, 31})
    d.set(i);
  EXPECT_EQ(e.days_of_month, d);
  std::bitset<13> m;
  for (int i : {2, 5, 8, 11})
    m.set(i);
  EXPECT_EQ(e.months, m);
  EXPECT_EQ(e.days_of_week.to_string(), "1010101");
  EXPECT_EQ(cron_of("1,2,3,10-12,59 * * * *").minutes.count(), 7u);
  EXPECT_EQ(cron_of("*/60 * * * *").minutes.count(), 1u);
  EXPECT_EQ(cron_of("0 0 * * */7").days_of_week.to_string(), "0000001");
  EXPECT_EQ(error_of("*/61 * * * *"), "cron: minute step 61 out of range 1-60");
  EXPECT_EQ(error_of("1-59/0 * * * *"),
            "cron: minute step 0 out of range 1-60");
  EXPECT_EQ(error_of("* */25 * * *"), "cron: hour step 25 out of range 1-24");
  EXPECT_EQ(error_of("* * * * */8"),
            "cron: day-of-week step 8 out of range 1-7");
  EXPECT_EQ(error_of("*/x * * * *"), "cron: minute step 'x' is not a number");
  EXPECT_EQ(error_of("5/15 * * * *"),
            "cron: minute step needs * or a range before it (5/15): write */S "
            "or A-B/S");
  EXPECT_EQ(error_of("30-10 * * * *"),
            "cron: minute range 30-10 goes backwards");
  EXPECT_EQ(error_of("1,,2 * * * *"), "cron: minute has an empty list item");
  EXPECT_EQ(error_of("1, * * * *"), "cron: minute has an empty list item");
  EXPECT_EQ(error_of("*/ * * * *"), "cron: minute step '' is not a number");
  EXPECT_EQ(error_of("1-2-3 * * * *"),
            "cron: minute value '2-3' is not a number");
  EXPECT_EQ(error_of("? * * * *"), "cron: minute value '?' is not a number");
}

TEST(cron, field_count_whitespace_and_characters) {
  EXPECT_EQ(cron_of("  0\t0  *  * *  ").minutes.count(), 1u);
  EXPECT_EQ(error_of("* * * *"),
            "cron: expected 5 fields (minute hour day-of-month month "
            "day-of-week), got 4");
  EXPECT_EQ(error_of("0 * * * * *"),
            "cron: expected 5 fields (minute hour day-of-month month "
            "day-of-week), got 6");
  EXPECT_EQ(error_of(""),
            "cron: expected 5 fields (minute hour day-of-month month "
            "day-of-week), got 0");
  EXPECT_EQ(error_of("0 0 * * *\n"),
            "cron: unexpected character in the expression");
  EXPECT_EQ(error_of("0 0 * * \xc3\xa9"),
            "cron: unexpected character in the expression");
}

TEST(cron, shorthands) {
  auto same = [](const std::string& a, const std::string& b) {
    auto x = cron_of(a);
    auto y = cron_of(b);
    EXPECT_EQ(x.minutes, y.minutes) << a;
    EXPECT_EQ(x.hours, y.hours) << a;
    EXPECT_EQ(x.days_of_month, y.days_of_month) << a;
    EXPECT_EQ(x.months, y.months) << a;
    EXPECT_EQ(x.days_of_week, y.days_of_week) << a;
    EXPECT_EQ(x.wildcard, y.wildcard) << a;
  };
  same("@yearly", "0 0 1 1 *");
  same("@annually", "0 0 1 1 *");
  same("@monthly", "0 0 1 * *");
  same("@weekly", "0 0 * * 0");
  same("@daily", "0 0 * * *");
  same("@midnight", "0 0 * * *");
  same("@hourly", "0 * * * *");
  same("@DAILY", "0 0 * * *");
  EXPECT_TRUE(cron_of("@hourly").wildcard);
  EXPECT_FALSE(cron_of("@daily").wildcard);
  EXPECT_EQ(error_of("@reboot"),
            "cron: @reboot is not supported (a schedule needs times)");
  EXPECT_EQ(error_of("@every 5m"),
            "cron: unknown shorthand '@every 5m' (@yearly, @annually, "
            "@monthly, @weekly, @daily, @midnight, @hourly)");
  EXPECT_EQ(firings("@yearly", "UTC", utc(2024, 6, 1), 2),
            (std::vector<int64_t>{utc(2025, 1, 1), utc(2026, 1, 1)}));
  EXPECT_EQ(firings("@weekly", "UTC", utc(2024, 6, 1), 1)[0], utc(2024, 6, 2));
  EXPECT_EQ(firings("@hourly", "UTC", utc(2024, 6, 1, 5, 0), 1)[0],
            utc(2024, 6, 1, 6));
}

// -- days
// ----------------------------------------------------------------------

TEST(cron, restricted_day_fields_or_as_in_vixie_cron) {
  // The 13th or any Friday, June 2024: Fri 7, Thu 13, Fri 14, 21, 28.
  EXPECT_EQ(
    firings("0 0 13 * 5", "UTC", utc(2024, 6, 1), 5),
    (std::vector<int64_t>{utc(2024, 6, 7), utc(2024, 6, 13), utc(2024, 6, 14),
                          utc(2024, 6, 21), utc(2024, 6, 28)}));
  // A `*` day field: the other one alone decides.
  EXPECT_EQ(firings("0 0 * * 5", "UTC", utc(2024, 6, 1), 2),
            (std::vector<int64_t>{utc(2024, 6, 7), utc(2024, 6, 14)}));
  EXPECT_EQ(firings("0 0 13 * *", "UTC", utc(2024, 6, 1), 2),
            (std::vector<int64_t>{utc(2024, 6, 13), utc(2024, 7, 13)}));
  // Beginning with `*` (a star step) makes them AND: odd days on Friday.
  EXPECT_EQ(
    firings("0 0 */2 * 5", "UTC", utc(2024, 6, 1), 3),
    (std::vector<int64_t>{utc(2024, 6, 7), utc(2024, 6, 21), utc(2024, 7, 5)}));
}

TEST(cron, leap_days_and_month_ends) {
  EXPECT_EQ(firings("0 0 29 2 *", "UTC", utc(2024, 3, 1), 3),
            (std::vector<int64_t>{utc(2028, 2, 29), utc(2032, 2, 29),
                                  utc(2036, 2, 29)}));
  // 2100 is not a leap year: 2096, then 2104.
  EXPECT_EQ(firings("0 0 29 2 *", "UTC", utc(2096, 3, 1), 1)[0],
            utc(2104, 2, 29));
  // The 31st exists in seven months only.
  EXPECT_EQ(firings("0 12 31 * *", "UTC", utc(2024, 1, 31, 13), 4),
            (std::vector<int64_t>{utc(2024, 3, 31, 12), utc(2024, 5, 31, 12),
                                  utc(2024, 7, 31, 12), utc(2024, 8, 31, 12)}));
  EXPECT_EQ(
    firings("59 23 30 * *", "UTC", utc(2024, 1, 31), 2),
    (std::vector<int64_t>{utc(2024, 3, 30, 23, 59), utc(2024, 4, 30, 23, 59)}));
  // Year ends roll over.
  EXPECT_EQ(firings("* * * * *", "UTC", utc(2024, 12, 31, 23, 59), 1)[0],
            utc(2025, 1, 1));
}

TEST(cron, expressions_that_never_fire_are_refused) {
  EXPECT_EQ(error_of("0 0 30 2 *"), "cron: '0 0 30 2 *' never fires (no "
                                    "date matches)");
  EXPECT_FALSE(error_of("0 0 31 4,6,9,11 *").empty());
  EXPECT_FALSE(error_of("0 0 31 2 *").empty());
  // Rare but real: February 29th, a date on a weekday (11-12 years apart).
  cron_of("0 0 29 2 *");
  auto feb1_monday = firings("0 0 */31 2 1", "UTC", utc(2090, 1, 1), 3);
  ASSERT_EQ(feb1_monday.size(), 3u);
  for (auto t : feb1_monday) {
    auto d = date::floor<date::days>(
      date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{t}});
    date::year_month_day ymd{d};
    EXPECT_EQ(ymd.month(), date::February);
    EXPECT_EQ(ymd.day(), date::day{1});
    EXPECT_EQ(date::weekday{d}, date::Monday);
  }
}

TEST(cron, next_is_strictly_after_and_in_order) {
  auto e = cron_of("*/5 * * * *");
  auto z = zone("UTC");
  EXPECT_EQ(*next_after(e, z, utc(2024, 1, 1)), utc(2024, 1, 1, 0, 5));
  EXPECT_EQ(*next_after(e, z, utc(2024, 1, 1) - 1), utc(2024, 1, 1));
  EXPECT_EQ(*next_after(e, z, utc(2024, 1, 1) + 1), utc(2024, 1, 1, 0, 5));
  auto five = next_n(e, z, utc(2024, 1, 1), 5);
  ASSERT_EQ(five.size(), 5u);
  for (size_t i = 0; i < five.size(); ++i)
    EXPECT_EQ(five[i],
              utc(2024, 1, 1) + static_cast<int64_t>(i + 1) * 5 * minute);
  // Before 1970 works too.
  EXPECT_EQ(*next_after(cron_of("@yearly"), z, utc(1960, 6, 1)),
            utc(1961, 1, 1));
}

TEST(cron, far_instants) {
  EXPECT_EQ(firings("0 0 1 1 *", "UTC", utc(2099, 12, 31), 2),
            (std::vector<int64_t>{utc(2100, 1, 1), utc(2101, 1, 1)}));
  EXPECT_EQ(firings("0 0 1 1 *", "UTC", utc(9998, 6, 1), 5),
            (std::vector<int64_t>{utc(9999, 1, 1)}));
  EXPECT_FALSE(next_after(cron_of("* * * * *"), zone("UTC"), cron_max_ms));
  EXPECT_FALSE(next_after(cron_of("* * * * *"), zone("UTC"), INT64_MAX));
  // Before year 1 the search starts at year 1.
  EXPECT_EQ(*next_after(cron_of("* * * * *"), zone("UTC"), INT64_MIN),
            cron_min_ms + minute);
}

// -- zones
// ---------------------------------------------------------------------

TEST(cron, zones_are_found_by_iana_name) {
  cron_zone z;
  std::string err;
  EXPECT_TRUE(find_zone("UTC", z, err));
  EXPECT_EQ(z.name(), "UTC");
  EXPECT_EQ(cron_zone{}.name(), "UTC");
  EXPECT_TRUE(find_zone("Europe/Berlin", z, err));
  EXPECT_EQ(z.name(), "Europe/Berlin");
  EXPECT_FALSE(find_zone("Mars/Olympus_Mons", z, err));
  EXPECT_EQ(err, "timezone: unknown zone 'Mars/Olympus_Mons'");
  EXPECT_FALSE(find_zone("../../etc/passwd", z, err));
  EXPECT_EQ(err, "timezone: '../../etc/passwd' is not an IANA zone name");
  EXPECT_FALSE(find_zone("", z, err));
  EXPECT_FALSE(find_zone("Europe/Berlin ", z, err));
  EXPECT_FALSE(find_zone(std::string(65, 'A'), z, err));
  EXPECT_EQ(err, "timezone: name longer than 64 characters");
  EXPECT_FALSE(find_zone(std::string(64, 'A'), z, err));
  EXPECT_EQ(err, "timezone: unknown zone '" + std::string(64, 'A') + "'");
  // A zone's local time: 09:00 in Tokyo is 00:00 UTC.
  EXPECT_EQ(firings("0 9 * * *", "Asia/Tokyo", utc(2024, 5, 31, 12), 1)[0],
            utc(2024, 6, 1, 0));
}

TEST(cron, new_york_spring_forward_gap) {
  // 2024-03-10: 02:00 EST becomes 03:00 EDT (07:00 UTC).
  auto gap_end = utc(2024, 3, 10, 7);
  // A fixed time in the gap fires once, when the gap ends.
  EXPECT_EQ(firings("30 2 * * *", "America/New_York", utc(2024, 3, 9), 3),
            (std::vector<int64_t>{utc(2024, 3, 9, 7, 30), gap_end,
                                  utc(2024, 3, 11, 6, 30)}));
  // Several gap times and the time right after it: one firing.
  EXPECT_EQ(
    firings("0,30 2,3 * * *", "America/New_York", utc(2024, 3, 10, 6, 30), 3),
    (std::vector<int64_t>{gap_end, gap_end + 30 * minute,
                          utc(2024, 3, 11, 6)}));
  // A wildcard job keeps real-time steps: 01:30 EST, 03:00 EDT, 03:30.
  EXPECT_EQ(firings("*/30 * * * *", "America/New_York", utc(2024, 3, 10, 6), 3),
            (std::vector<int64_t>{utc(2024, 3, 10, 6, 30), gap_end,
                                  gap_end + 30 * minute}));
  EXPECT_EQ(
    firings("15 * * * *", "America/New_York", utc(2024, 3, 10, 6), 2),
    (std::vector<int64_t>{utc(2024, 3, 10, 6, 15), gap_end + 15 * minute}));
}

TEST(cron, new_york_fall_back_repeat) {
  // 2024-11-03: 02:00 EDT becomes 01:00 EST (06:00 UTC); 01:xx repeats.
  auto repeat = utc(2024, 11, 3, 6);
  // A fixed hour: the first occurrence only (01:30 EDT = 05:30 UTC).
  EXPECT_EQ(
    firings("30 1 * * *", "America/New_York", utc(2024, 11, 2, 12), 2),
    (std::vector<int64_t>{utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)}));
  // A wildcard job fires in both: every 30 minutes of real time.
  auto every30
    = firings("*/30 * * * *", "America/New_York", utc(2024, 11, 3, 4, 50), 6);
  std::vector<int64_t> expected;
  for (int i = 0; i < 6; ++i)
    expected.push_back(utc(2024, 11, 3, 5) + i * 30 * minute);
  EXPECT_EQ(every30, expected);
  EXPECT_EQ(
    firings("0 * * * *", "America/New_York", utc(2024, 11, 3, 4, 30), 3),
    (std::vector<int64_t>{utc(2024, 11, 3, 5), repeat, repeat + hour}));
  // Minute `*` with a fixed hour is a wildcard job too (Vixie's MIN_STAR).
  auto minutes
    = firings("* 1 * * *", "America/New_York", utc(2024, 11, 3, 4), 120);
  ASSERT_EQ(minutes.size(), 120u);
  EXPECT_EQ(minutes[59], utc(2024, 11, 3, 5, 59));
  EXPECT_EQ(minutes[60], repeat);
  EXPECT_EQ(minutes[119], repeat + 59 * minute);
}

TEST(cron, berlin_transitions) {
  // 2024-03-31: 02:00 CET becomes 03:00 CEST (01:00 UTC).
  EXPECT_EQ(
    firings("30 2 * * *", "Europe/Berlin", utc(2024, 3, 30, 12), 2),
    (std::vector<int64_t>{utc(2024, 3, 31, 1), utc(2024, 4, 1, 0, 30)}));
  // 2024-10-27: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:xx repeats.
  EXPECT_EQ(
    firings("30 2 * * *", "Europe/Berlin", utc(2024, 10, 26, 12), 2),
    (std::vector<int64_t>{utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)}));
  EXPECT_EQ(
    firings("30 * * * *", "Europe/Berlin", utc(2024, 10, 27, 0), 3),
    (std::vector<int64_t>{utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30),
                          utc(2024, 10, 27, 2, 30)}));
}

TEST(cron, lord_howe_half_hour_shift) {
  // 2024-10-06: 02:00 +1030 becomes 02:30 +11 (15:30 UTC on the 5th).
  EXPECT_EQ(
    firings("15 2 * * *", "Australia/Lord_Howe", utc(2024, 10, 5), 2),
    (std::vector<int64_t>{utc(2024, 10, 5, 15, 30), utc(2024, 10, 6, 15, 15)}));
  // 2024-04-07: 02:00 +11 becomes 01:30 +1030 (15:00 UTC on the 6th).
  EXPECT_EQ(
    firings("45 1 * * *", "Australia/Lord_Howe", utc(2024, 4, 6), 2),
    (std::vector<int64_t>{utc(2024, 4, 6, 14, 45), utc(2024, 4, 7, 15, 15)}));
  EXPECT_EQ(
    firings("*/30 * * * *", "Australia/Lord_Howe", utc(2024, 4, 6, 14, 10), 3),
    (std::vector<int64_t>{utc(2024, 4, 6, 14, 30), utc(2024, 4, 6, 15),
                          utc(2024, 4, 6, 15, 30)}));
}

TEST(cron, daylight_saving_continues_past_2037) {
  // TZif files list transitions until 2037; the footer's rule goes on:
  // 2100-03-14 and 2100-11-07 in New York, 2100-03-28 in Berlin.
  EXPECT_EQ(firings("0 2 * * *", "America/New_York", utc(2100, 3, 13), 3),
            (std::vector<int64_t>{utc(2100, 3, 13, 7), utc(2100, 3, 14, 7),
                                  utc(2100, 3, 15, 6)}));
  EXPECT_EQ(firings("0 12 * * *", "America/New_York", utc(2100, 11, 6), 2),
            (std::vector<int64_t>{utc(2100, 11, 6, 16), utc(2100, 11, 7, 17)}));
  EXPECT_EQ(
    firings("30 2 * * *", "Europe/Berlin", utc(2100, 3, 27, 12), 2),
    (std::vector<int64_t>{utc(2100, 3, 28, 1), utc(2100, 3, 29, 0, 30)}));
  EXPECT_EQ(firings("0 0 1 7 *", "America/New_York", utc(2999, 1, 1), 1)[0],
            utc(2999, 7, 1, 4));
}

// -- counting
// ------------------------------------------------------------------

TEST(cron, count_firings_counts_and_caps) {
  auto e = cron_of("0 * * * *");
  auto z = zone("UTC");
  auto c = count_firings(e, z, utc(2024, 1, 1), utc(2024, 1, 2), 1000);
  EXPECT_EQ(c.count, 24u);
  EXPECT_EQ(c.latest, utc(2024, 1, 2));
  EXPECT_FALSE(c.capped);
  c = count_firings(e, z, utc(2024, 1, 1), utc(2024, 1, 1, 0, 59), 1000);
  EXPECT_EQ(c.count, 0u);
  // A year of minutes, capped: still the right latest firing, quickly.
  auto every = cron_of("* * * * *");
  auto t0 = std::chrono::steady_clock::now();
  c = count_firings(every, z, utc(2023, 1, 1), utc(2024, 1, 1, 12, 34), 10000);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(c.count, 10000u);
  EXPECT_TRUE(c.capped);
  EXPECT_EQ(c.latest, utc(2024, 1, 1, 12, 34));
  EXPECT_LT(took, std::chrono::seconds{2});
  // Exactly the cap: not capped.
  c = count_firings(e, z, utc(2024, 1, 1), utc(2024, 1, 1, 3), 3);
  EXPECT_EQ(c.count, 3u);
  EXPECT_FALSE(c.capped);
}

// -- hostile input
// -------------------------------------------------------------

TEST(cron, hostile_expressions_are_refused_quickly) {
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of(std::string(100000, '*')),
            "cron: expression longer than 256 characters");
  EXPECT_EQ(error_of(std::string(257, ' ')),
            "cron: expression longer than 256 characters");
  std::string list = "0";
  while (list.size() < 240)
    list += ",0";
  cron_of(list + " * * * *");
  auto nines = std::string(30, '9');
  EXPECT_EQ(error_of("*/" + nines + " * * * *"),
            "cron: minute step 99999999999999999999... out of range 1-60");
  EXPECT_EQ(error_of(nines + " * * * *"),
            "cron: minute 99999999999999999999... out of range 0-59");
  EXPECT_EQ(error_of("0 0 */" + std::string(200, '0') + " * *"),
            "cron: day-of-month step 00000000000000000000... out of range "
            "1-31");
  // Leading zeros are only zeros.
  EXPECT_TRUE(cron_of("0000000000059 * * * *").minutes[59]);
  EXPECT_EQ(error_of("1-59/0 * * * *"),
            "cron: minute step 0 out of range 1-60");
  EXPECT_EQ(error_of("0 0 31 2 *"), "cron: '0 0 31 2 *' never fires (no date "
                                    "matches)");
  // The worst never-fires search (every month checked, no day matches) is
  // still short.
  for (int i = 0; i < 20; ++i)
    error_of("0 0 31 2,4,6,9,11 *");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds{2});
}
