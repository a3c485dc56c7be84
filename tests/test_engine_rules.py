"""One test per rule of SPEC §3, at its edges."""

from __future__ import annotations

from enginekit import (
    LAT0,
    LON0,
    bundle,
    curfew_zone,
    home_zone,
    ms,
    of_type,
    permit,
    person,
    run,
    venue_zone,
)

from stream import events as ev

D = "2026-11-27 "


def t(hhmm: str, day: str = D) -> str:
    return day + hhmm


# -- inclusion zones: confirmation, hysteresis, buffer edges ---------------------------------


def outs(f, *times, metres=1000.0, **kw):
    for at in times:
        f.out(t(at), metres, **kw)
    return f


def test_zone_exit_opens_on_third_clearly_outside_fix_with_first_as_opened_at():
    _, _, ups = run(bundle(), lambda f: outs(f.inside(t("10:00")), "10:01", "10:01:30", "10:02"))
    exits = of_type(ups, "zone_exit")
    assert len(exits) == 1
    assert exits[0].opened_at_ms == ms(t("10:01"))
    assert exits[0].event_count == 3
    assert exits[0].condition == "active"
    assert exits[0].zone_id == "home"
    assert exits[0].severity == "high"
    assert exits[0].late is False


def test_two_outside_fixes_are_not_enough():
    _, _, ups = run(bundle(), lambda f: outs(f.inside(t("10:00")), "10:01", "10:05"))
    assert of_type(ups, "zone_exit") == []


def test_an_inside_fix_resets_the_run():
    _, _, ups = run(bundle(), lambda f: outs(f, "10:01", "10:02").inside(t("10:03"))
                    .out(t("10:04")))
    assert of_type(ups, "zone_exit") == []


def test_three_fixes_must_span_confirm_s_from_first_to_last():
    # 10 s fixes: the 3rd is only 20 s after the first; the one 60 s after it confirms
    _, _, ups = run(bundle(), lambda f: outs(f, "10:00:00", "10:00:10", "10:00:20",
                                             "10:00:50"))
    assert of_type(ups, "zone_exit") == []
    _, _, ups = run(bundle(), lambda f: outs(f, "10:00:00", "10:00:10", "10:00:20",
                                             "10:00:50", "10:01:00"))
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == ms(t("10:00")) and a.event_count == 5


def test_exactly_at_the_buffer_is_not_clearly_outside():
    # buffer 100 m, accuracy 10 m: 99 m out is the band (counts nothing), 101 m is clearly out
    _, _, band = run(bundle(), lambda f: outs(f, "10:00", "10:01", "10:02", metres=99))
    assert of_type(band, "zone_exit") == []
    _, _, out = run(bundle(), lambda f: outs(f, "10:00", "10:01", "10:02", metres=101))
    assert len(of_type(out, "zone_exit")) == 1


def test_clearly_outside_needs_accuracy_sigmas_times_accuracy():
    # accuracy 150 m, 2 sigmas: 290 m out could still be inside; 310 m is clearly outside
    # (the test's metres are good to ~0.3 %)
    _, _, ups = run(bundle(), lambda f: outs(f, "10:00", "10:01", "10:02", metres=290, acc=150))
    assert of_type(ups, "zone_exit") == []
    _, _, ups = run(bundle(), lambda f: outs(f, "10:00", "10:01", "10:02", metres=310, acc=150))
    assert len(of_type(ups, "zone_exit")) == 1
    # the setting widens or narrows it for every zone that does not set its own
    _, _, ups = run(bundle(accuracy_sigmas=1.0),
                    lambda f: outs(f, "10:00", "10:01", "10:02", metres=200, acc=150))
    assert len(of_type(ups, "zone_exit")) == 1


def test_band_fixes_neither_count_nor_break_the_run():
    _, _, ups = run(bundle(), lambda f: outs(f, "10:00").out(t("10:01"), 50).out(t("10:02"))
                    .out(t("10:02:30"), 50).out(t("10:03")))
    exits = of_type(ups, "zone_exit")
    assert len(exits) == 1 and exits[0].opened_at_ms == ms(t("10:00"))
    assert exits[0].last_event_at_ms == ms(t("10:03"))


def test_fix_over_max_accuracy_changes_no_zone_state_but_is_a_sign_of_life():
    def feed(f):
        # the 1500 m fix neither counts nor breaks: three clearly-outside fixes confirm
        f.out(t("09:40")).out(t("09:41"), acc=1500).out(t("09:42")).out(t("09:43"))
        f.inside(t("09:44")).inside(t("09:45"))
        f.out(t("10:00")).out(t("10:01"), acc=1500).inside(t("10:02"))
        # without the 10:59 sign of life, silence would fire at 11:02 before the 11:20 fix
        f.out(t("10:32")).out(t("10:59"), acc=5000).out(t("11:20"), 50)

    _, _, ups = run(bundle(), feed)
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == ms(t("09:40")) and a.event_count == 3
    assert a.cleared_at_ms == ms(t("09:45"))
    assert of_type(ups, "signal_lost") == []


def test_zone_exit_clears_after_clear_fixes_inside_fixes_in_a_row():
    def feed(f):
        outs(f, "10:00", "10:01", "10:02")
        f.out(t("10:02:30"), 50).inside(t("10:03"))  # one inside fix: still active
        f.out(t("10:04"))  # clearly outside again: the clearing count starts over
        f.inside(t("10:05")).out(t("10:05:30"), 50).inside(t("10:06"))  # band between: clears

    _, _, ups = run(bundle(), feed)
    (a,) = of_type(ups, "zone_exit")
    assert a.condition == "cleared" and a.cleared_at_ms == ms(t("10:06"))
    assert a.event_count == 4  # band and inside fixes are not qualifying events
    assert [u.condition for u in ups if u.type == "zone_exit"] == \
        ["active", "active", "cleared"]


# -- exclusion zones ---------------------------------------------------------------------------

VENUE = (LON0 + 0.01, LAT0)
M_LON = 96_405.0


def test_zone_enter_opens_on_first_fix_inside_and_clears_beyond_buffer_only():
    lon, lat = VENUE

    def feed(f):
        f.fix(t("20:00"), lon, lat)  # inside the 100 m circle
        f.fix(t("20:01"), lon + 130 / M_LON, lat)  # 30 m out of a 50 m buffer: band
        f.fix(t("20:02"), lon + 165 / M_LON, lat)  # 65 m out: clears

    _, _, ups = run(bundle(), feed)
    (a,) = of_type(ups, "zone_enter")
    assert a.severity == "critical" and a.opened_at_ms == ms(t("20:00"))
    assert a.cleared_at_ms == ms(t("20:02"))


def test_exclusion_zone_only_applies_to_its_group():
    b = bundle(persons=[person(groups=())])
    _, _, ups = run(b, lambda f: f.fix(t("20:00"), *VENUE))
    assert of_type(ups, "zone_enter") == []


def test_exclusion_clears_when_next_fix_is_far_away():
    # the far fix is not even a spatial-index candidate of the venue: still clears it
    _, _, ups = run(bundle(), lambda f: f.fix(t("20:00"), *VENUE).inside(t("20:05")))
    (a,) = of_type(ups, "zone_enter")
    assert a.condition == "cleared"


# -- schedules ---------------------------------------------------------------------------------


def curfew_bundle(**kw):
    return bundle(zones=[home_zone(), curfew_zone()],
                  persons=[person(zones=("home", "curfew"), timeout_s=7200)], **kw)


def curfew_away(metres=2000.0):
    """A point inside the home district but well outside the 300 m curfew circle."""
    return LON0 + metres / M_LON, LAT0


def test_curfew_starting_while_person_is_out_counts_at_its_start():
    away = curfew_away()

    def feed(f):
        f.fix(t("21:50"), *away)  # curfew not yet active: nothing
        f.fix(t("22:00:30"), *away)  # the 22:00 activation counted one; this is two
        f.fix(t("22:01"), *away)  # three, 60 s after the first: confirms

    _, _, ups = run(curfew_bundle(), feed)
    (a,) = of_type(ups, "zone_exit")
    assert a.zone_id == "curfew" and a.opened_at_ms == ms(t("22:00"))
    assert a.event_count == 3


def test_curfew_activation_while_out_is_reset_by_an_inside_fix():
    away = curfew_away()

    def feed(f):
        f.fix(t("21:50"), *away)
        f.inside(t("22:00:30"))  # home after all: the activation's count is gone
        f.fix(t("22:01"), *away).fix(t("22:01:30"), *away)

    _, _, ups = run(curfew_bundle(), feed)
    assert of_type(ups, "zone_exit") == []


def test_curfew_window_start_is_inclusive_and_end_exclusive():
    away = curfew_away()
    # fixes at exactly 22:00 and after count (window [start, end))
    _, _, ups = run(curfew_bundle(), lambda f: f.fix(t("22:00"), *away).fix(t("22:00:30"), *away)
                    .fix(t("22:01"), *away))
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == ms(t("22:00"))
    # fixes at exactly 06:00 are after the window: nothing
    day2 = "2026-11-28 "
    _, _, ups = run(curfew_bundle(), lambda f: f.fix(t("06:00", day2), *away)
                    .fix(t("06:01", day2), *away).fix(t("06:02", day2), *away))
    assert of_type(ups, "zone_exit") == []


def test_curfew_runs_past_midnight_and_clears_when_it_ends():
    away = curfew_away()
    day2 = "2026-11-28 "

    def feed(f):
        f.fix(t("23:50"), *away).fix(t("23:59"), *away)
        f.fix(t("00:10", day2), *away)  # across midnight: confirmed
        f.fix(t("05:59", day2), *away)
        f.fix(t("06:30", day2), *away)  # the window ended at 06:00

    _, _, ups = run(curfew_bundle(), feed)
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == ms(t("23:50"))
    assert a.condition == "cleared" and a.cleared_at_ms == ms(t("06:00", day2))


def test_curfew_activation_ignores_a_stale_last_fix():
    away = curfew_away()
    b = bundle(zones=[home_zone(), curfew_zone()],
               persons=[person(zones=("home", "curfew"), timeout_s=600)])
    # the 21:00 fix is older than the 600 s silence timeout when the curfew starts
    _, _, ups = run(b, lambda f: f.fix(t("21:00"), *away).fix(t("22:05"), *away)
                    .fix(t("22:06"), *away))
    assert of_type(ups, "zone_exit") == []


# -- leave permits -----------------------------------------------------------------------------


def test_permit_start_clears_an_open_exit_and_suppresses_new_ones():
    b = bundle(permits=[permit(start="2026-11-27 09:00", end="2026-11-27 18:00")])

    def feed(f):
        outs(f, "08:50", "08:52", "08:55")  # opens
        outs(f, "09:30", "09:40", "09:50")  # on leave: nothing

    _, _, ups = run(b, feed)
    (a,) = of_type(ups, "zone_exit")
    assert a.condition == "cleared" and a.cleared_at_ms == ms(t("09:00"))


def test_person_still_away_when_leave_ends_raises_at_that_moment():
    b = bundle(permits=[permit(start="2026-11-27 09:00", end="2026-11-27 18:00")])
    _, _, ups = run(b, lambda f: outs(f, "17:50", "18:00:30", "18:01"))
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == ms(t("18:00"))


def test_revoked_permit_ends_early():
    b = bundle(permits=[permit(start="2026-11-27 09:00", end="2026-11-27 18:00",
                               revoked="2026-11-27 12:00")])
    _, _, ups = run(b, lambda f: outs(f, "11:50", "12:10", "12:11"))
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == ms(t("12:00"))


# -- device and behaviour ------------------------------------------------------------------------


def test_signal_lost_opens_at_last_seen_plus_timeout_and_not_at_exactly_timeout():
    _, _, ups = run(bundle(), lambda f: f.inside(t("10:00")).inside(t("10:30")).inside(t("11:00:01")))
    (a,) = of_type(ups, "signal_lost")
    assert a.opened_at_ms == ms(t("11:00")) and a.cleared_at_ms == ms(t("11:00:01"))
    # a gap of exactly the timeout is not silence
    _, _, ups = run(bundle(), lambda f: f.inside(t("10:00")).inside(t("10:30")).inside(t("11:00")))
    assert of_type(ups, "signal_lost") == []


def test_person_never_heard_from_is_silent_from_clock_start():
    b = bundle(persons=[person("P1"), person("P2")])
    _, _, ups = run(b, lambda f: f.inside(t("10:00")).inside(t("10:29")).inside(t("10:58"))
                    .inside(t("11:27")))
    lost = of_type(ups, "signal_lost")
    assert [(a.person_id, a.opened_at_ms) for a in lost] == [("P2", ms(t("10:30")))]


def test_no_silence_while_device_off_and_any_event_clears_device_off():
    def feed(f):
        f.inside(t("10:00")).status(t("10:05"), ev.POWER_OFF)
        f.inside(t("12:00"))

    _, _, ups = run(bundle(), feed)
    assert of_type(ups, "signal_lost") == []
    (off,) = of_type(ups, "device_off")
    assert off.opened_at_ms == ms(t("10:05")) and off.cleared_at_ms == ms(t("12:00"))


def test_location_disabled_clears_on_fix_or_enabled():
    _, _, ups = run(bundle(), lambda f: f.inside(t("10:00")).status(t("10:01"), ev.LOCATION_DISABLED)
                    .status(t("10:02"), ev.HEARTBEAT).inside(t("10:03")))
    (a,) = of_type(ups, "location_disabled")
    assert a.cleared_at_ms == ms(t("10:03"))
    _, _, ups = run(bundle(), lambda f: f.status(t("10:01"), ev.LOCATION_DISABLED)
                    .status(t("10:02"), ev.LOCATION_ENABLED))
    (a,) = of_type(ups, "location_disabled")
    assert a.cleared_at_ms == ms(t("10:02"))


def test_tamper_stays_active_until_an_officer_resolves_it():
    _, _, ups = run(bundle(), lambda f: f.status(t("10:00"), ev.TAMPER).inside(t("10:01"))
                    .status(t("10:02"), ev.POWER_ON))
    (a,) = of_type(ups, "tamper")
    assert a.condition == "active" and a.severity == "critical"


def test_low_battery_opens_at_15_and_clears_only_at_25():
    _, _, ups = run(bundle(), lambda f: f.inside(t("10:00"), battery=16).inside(t("10:01"), battery=15)
                    .inside(t("10:02"), battery=24).inside(t("10:03"), battery=25))
    (a,) = of_type(ups, "low_battery")
    assert a.opened_at_ms == ms(t("10:01")) and a.cleared_at_ms == ms(t("10:03"))
    assert a.severity == "low"


def test_location_jump_needs_both_distance_and_speed():
    far = (LON0 + 0.04, LAT0)  # ~3.9 km east, still inside the district
    # 3.9 km in 10 s: 390 m/s -> jump
    _, _, ups = run(bundle(), lambda f: f.inside(t("10:00:00")).fix(t("10:00:10"), *far))
    assert len(of_type(ups, "location_jump")) == 1
    # 3.9 km in 60 s: 65 m/s -> a fast car, not a jump
    _, _, ups = run(bundle(), lambda f: f.inside(t("10:00")).fix(t("10:01"), *far))
    assert of_type(ups, "location_jump") == []
    # accuracies are subtracted: 3.9 km less 2 × 1 km is under 2 km
    _, _, ups = run(bundle(), lambda f: f.inside(t("10:00:00"), acc=999).fix(t("10:00:10"), *far, acc=999))
    assert of_type(ups, "location_jump") == []


# -- one incident, one alert ------------------------------------------------------------------


def exit_then_return(f, again_at: str):
    outs(f, "10:00", "10:01", "10:02").inside(t("10:04")).inside(t("10:05"))
    outs(f, again_at, "10:24", "10:25")


def test_recurrence_just_inside_the_reopen_window_reopens_the_same_alert():
    _, _, ups = run(bundle(), lambda f: exit_then_return(f, "10:20"))  # 900 s after 10:05
    (a,) = of_type(ups, "zone_exit")
    assert a.reopen_count == 1 and a.condition == "active"
    assert a.opened_at_ms == ms(t("10:00"))


def test_recurrence_just_outside_the_reopen_window_is_a_new_alert():
    _, _, ups = run(bundle(), lambda f: exit_then_return(f, "10:20:01"))
    alerts = of_type(ups, "zone_exit")
    assert len(alerts) == 2 and {a.reopen_count for a in alerts} == {0}
    assert len({a.alert_id for a in alerts}) == 2


def test_repeats_update_the_active_alert_instead_of_raising_new_ones():
    _, _, ups = run(bundle(), lambda f: [f.out(f"{D}10:{m:02d}") for m in range(6)])
    (a,) = of_type(ups, "zone_exit")
    assert a.event_count == 6 and a.last_event_at_ms == ms(t("10:05"))
    assert [u.version for u in ups if u.type == "zone_exit"] == [1, 2, 3, 4]


# -- duplicates and late events ---------------------------------------------------------------


def test_exact_repeats_are_duplicates_and_late_events_change_no_current_state():
    def feed(f):
        f.inside(t("10:00")).inside(t("10:00"))  # exact repeat: duplicate
        f.status(t("09:59"), ev.POWER_OFF)  # late power_off opens nothing
        f.out(t("10:01")).inside(t("09:58"))  # the late fix clears nothing, counts nothing
        f.out(t("10:01:30")).out(t("10:02"))

    engine, _, ups = run(bundle(), feed)
    assert of_type(ups, "device_off") == []
    (a,) = of_type(ups, "zone_exit")
    assert a.opened_at_ms == ms(t("10:01"))
    assert engine.stats["duplicate"] == 1 and engine.stats["out_of_order"] == 2


def test_ids_are_derived_from_key_and_opened_at():
    _, _, a = run(bundle(), lambda f: outs(f, "10:00", "10:01", "10:02"))
    _, _, b = run(bundle(), lambda f: outs(f, "10:00", "10:01", "10:02"), now_ms=123456)
    assert [u.alert_id for u in a] == [u.alert_id for u in b]
    assert a[0].alert_id.startswith("al-")


# -- ticks and the clock ----------------------------------------------------------------------


def test_a_tick_fires_timers_due_at_or_before_it_an_event_only_strictly_before():
    # due at 10:30:00 exactly: a tick at 10:30 fires it, another person's event at 10:30 doesn't
    b = bundle(persons=[person("P1"), person("P2", timeout_s=7200)])
    _, _, ups = run(b, lambda f: f.inside(t("10:00")).inside(t("10:00"), pid="P2").tick(t("10:30")))
    (a,) = of_type(ups, "signal_lost")
    assert a.opened_at_ms == ms(t("10:30"))
    _, _, ups = run(b, lambda f: f.inside(t("10:00")).inside(t("10:00"), pid="P2")
                    .inside(t("10:30"), pid="P2"))
    assert of_type(ups, "signal_lost") == []


def test_another_persons_events_move_the_clock_for_everyone():
    b = bundle(persons=[person("P1"), person("P2", timeout_s=7200)])
    _, _, ups = run(b, lambda f: f.inside(t("10:00")).inside(t("10:00"), pid="P2")
                    .inside(t("10:45"), pid="P2").inside(t("10:50")))
    (a,) = of_type(ups, "signal_lost")
    # fired when P2's 10:45 fix moved the clock, cleared by P1's own late return
    assert a.opened_at_ms == ms(t("10:30")) and a.cleared_at_ms == ms(t("10:50"))


def test_a_lagging_device_is_silent_from_its_own_last_fix():
    # P1's phone delivers a fix stamped 09:00 when the clock already reads 10:00
    b = bundle(persons=[person("P1"), person("P2", timeout_s=7200)])
    _, _, ups = run(b, lambda f: f.inside(t("10:00"), pid="P2").inside(t("09:00"))
                    .inside(t("10:01"), pid="P2"))
    (a,) = of_type(ups, "signal_lost")
    assert a.opened_at_ms == ms(t("09:30"))


def test_reload_with_a_new_permit_suppresses_the_next_exit_without_restart():
    from enginekit import Feed

    from alerts.engine import Engine

    b = bundle()
    engine = Engine(b)
    state = engine.new_state()
    engine.process(state, Feed(engine).inside(t("08:00")).batch(), 0)
    engine.reload(bundle(permits=[permit(start="2026-11-27 09:00", end="2026-11-27 18:00")]), state)
    ups = engine.process(state, Feed(engine).out(t("09:10")).out(t("09:20")).out(t("09:30"))
                         .batch(), 0)
    assert of_type(ups, "zone_exit") == []
    # and a removed zone stops counting: the person now has only the venue
    engine.reload(bundle(zones=[venue_zone()], persons=[person(zones=())]), state)
    ups = engine.process(state, Feed(engine).out(t("18:10")).out(t("18:20")).out(t("18:30"))
                         .batch(), 0)
    assert of_type(ups, "zone_exit") == []
