# cycles.gp — power-cycle stage times, one panel per slot, from cycles.csv
# of a run. For each cycle (an integer axis), the time from power-on to each
# stage it reached: one marker and colour per stage, the stages of a cycle
# side by side (stages that take the same time stay visible, not hidden
# behind each other) and no connecting lines (cycles are samples, not a
# series). The first-APDU limit the cycles were judged by
# (FIRST_APDU_MAX_MS: cycles.csv's first_apdu_limit_ms) is a dashed line;
# red crosses mark failed cycles.
#
#   gnuplot -e "dir='reports/RUN'" reports/cycles.gp
# Optional: -e "out='x.png'"    default DIR/cycles.png
# cycles.csv columns: 1 time, 2 slot, 3 serial, 4 cycle, 5 off_ms,
#   6 to_device_ms, 7 to_reader_ms, 8 to_atr_ms, 9 to_first_apdu_ms, 10 atr,
#   11 stage, 12 power_level, 13 verdict, 14 message, 15 run_id, 16 suite,
#   17 test, 18 first_apdu_limit_ms
if (!exists("dir")) dir = "reports/latest"
if (!exists("out")) out = dir."/cycles.png"
# ci/plots.sh hands over a tab-separated copy (data='DIR', tsv=1): gnuplot
# does not understand CSV quoting, and test names may hold commas. It also
# writes DIR/cycles-meta.gp (meta=1): the slots, and per slot the stage
# columns that hold a time and whether it has a limit, so that a stage
# never reached (no USB device on a virtual rig) is left out of the key.
if (!exists("data")) data = dir
if (!exists("tsv")) tsv = 0
if (!exists("meta")) meta = 0
f = data."/cycles.".(tsv ? "tsv" : "csv")

if (tsv) { set datafile separator tab } else { set datafile separator comma }
set datafile missing ""
stats f skip 1 using 4 nooutput name "C"
stats f skip 1 using (strcol(13) eq "pass" ? 0 : 1) nooutput name "FAILED"
if (meta) {
    load data."/cycles-meta.gp"
} else {
    slots = ""
    stats f skip 1 using (s = strcol(2), (strstrt(slots, " ".s." ") == 0 ? slots = slots." ".s." " : 0), $4) \
          nooutput name "S"
}
stages(i) = meta ? value(sprintf("stages%d", i)) : "6 7 8 9"
limit_ms(i) = meta ? value(sprintf("limit%d", i)) : -1     # -1: from the data, 0: none
has_failed(i) = meta ? value(sprintf("failed%d", i)) : 1

n = words(slots)
W = 900; H = 300 * n + 40
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size W,H noenhanced font ",10"
} else {
    set terminal png size W,H noenhanced
}
set output out
set multiplot layout n,1 title sprintf("Power cycles: time from power-on to each stage (%d cycles, %d failed) — %s", \
    C_records, FAILED_sum, dir)
# an integer cycle axis: a tic every cycle, or every k cycles when there are many
xstep = C_max <= 20 ? 1 : ceil(C_max / 20.0)
set xrange [0.5:C_max + 0.5]
set xtics xstep format "%.0f"
unset mxtics
set xlabel "cycle"
set ylabel "ms since power-on"
set yrange [0:*]
set grid
set key outside right top
ok(c) = strcol(2) eq s ? column(c) : NaN
# per stage column: its name, marker, colour, and its place within a cycle
name(c) = c == 6 ? "USB device" : c == 7 ? "PC/SC reader" : c == 8 ? "ATR" : "first APDU"
marker(c) = c == 6 ? 5 : c == 7 ? 9 : c == 8 ? 7 : 13
colour(c) = c == 6 ? "#1b9e77" : c == 7 ? "#7570b3" : c == 8 ? "#d95f02" : "#0072b2"
dodge(c) = (c - 7.5) * (xstep * 0.16)
# a series only where it has points (meta): no empty entries in the key;
# the limit across the whole axis when meta knows it, else along the data
limit_style = "with lines dt 2 lw 2 lc rgb '#cc0000' title 'FIRST_APDU_MAX_MS'"
limit_series(i) = limit_ms(i) > 0 ? sprintf("%g ", limit_ms(i)) . limit_style : "f skip 1 using 4:(ok(18)) " . limit_style
failed_series = "f skip 1 using 4:(strcol(2) eq s && strcol(13) ne 'pass' ? 0 : NaN) " . \
                "with points pt 2 ps 2 lw 2 lc rgb 'red' title 'failed cycle'"
stage_series = "for [w in stage_list] f skip 1 using ($4 + dodge(int(w))):(ok(int(w))) " . \
               "with points pt marker(int(w)) ps 0.8 lc rgb colour(int(w)) title name(int(w))"
join(a, b) = a eq "" ? b : b eq "" ? a : a . ", " . b
do for [i = 1:n] {
    s = word(slots, i)
    set title s
    stage_list = stages(i)
    series = join(join(stage_list ne "" ? stage_series : "", limit_ms(i) != 0 ? limit_series(i) : ""), \
                  has_failed(i) ? failed_series : "")
    eval "plot " . (series ne "" ? series : "NaN notitle")
}
unset multiplot
unset output
