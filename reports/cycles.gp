# cycles.gp — power-cycle stage times per cycle, one panel per slot, from
# cycles.csv of a run. Each line is the time from power-on to a stage; a
# missing point is a stage not reached; red crosses mark failed cycles.
#
#   gnuplot -e "dir='reports/RUN'" reports/cycles.gp
# Optional: -e "out='x.png'"    default DIR/cycles.png
# cycles.csv columns: 1 time, 2 slot, 3 serial, 4 cycle, 5 off_ms,
#   6 to_device_ms, 7 to_reader_ms, 8 to_atr_ms, 9 to_first_apdu_ms, 10 atr,
#   11 stage, 12 power_level, 13 verdict, 14 message
if (!exists("dir")) dir = "reports/latest"
if (!exists("out")) out = dir."/cycles.png"
# ci/plots.sh hands over a tab-separated copy (data='DIR', tsv=1): gnuplot
# does not understand CSV quoting, and test names may hold commas.
if (!exists("data")) data = dir
if (!exists("tsv")) tsv = 0
f = data."/cycles.".(tsv ? "tsv" : "csv")

if (tsv) { set datafile separator tab } else { set datafile separator comma }
slots = ""
stats f skip 1 using (s = strcol(2), (strstrt(slots, " ".s." ") == 0 ? slots = slots." ".s." " : 0), $4) \
      nooutput name "C"
stats f skip 1 using (strcol(13) eq "pass" ? 0 : 1) nooutput name "FAILED"

n = words(slots)
rows = n
W = 900; H = 300 * rows + 40
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size W,H noenhanced font ",10"
} else {
    set terminal png size W,H noenhanced
}
set output out
set multiplot layout rows,1 title sprintf("Power cycles: time from power-on to each stage (%d cycles, %d failed) — %s", \
    C_records, FAILED_sum, dir)
set xlabel "cycle"
set ylabel "ms since power-on"
set yrange [0:*]
set grid
set key outside right top
set datafile missing ""
ok(c) = strcol(2) eq s ? column(c) : NaN
do for [i = 1:n] {
    s = word(slots, i)
    set title s
    plot f skip 1 using 4:(ok(6)) with linespoints pt 7 ps 0.5 title "USB device", \
         '' skip 1 using 4:(ok(7)) with linespoints pt 7 ps 0.5 title "PC/SC reader", \
         '' skip 1 using 4:(ok(8)) with linespoints pt 7 ps 0.5 title "ATR", \
         '' skip 1 using 4:(ok(9)) with linespoints pt 7 ps 0.5 title "first APDU", \
         '' skip 1 using 4:(strcol(2) eq s && strcol(13) ne "pass" ? 0 : NaN) \
            with points pt 2 ps 2 lw 2 lc rgb "red" title "failed cycle"
}
unset multiplot
unset output
