# batch.gp — verdict per token of a batch, from summary.csv: one bar per
# slot, stacked by test outcome, labelled with the token's verdict; the
# batch yield is in the title.
#
#   gnuplot -e "dir='reports/RUN'" reports/batch.gp
# Optional: -e "out='x.png'"    default DIR/batch.png
# summary.csv columns: 1 run_id, 2 rig, 3 slot, 4 serial, 5 role, 6 verdict,
#   7 classifications, 8 tests, 9 passed, 10 failed, 11 errored, 12 skipped,
#   13 duration_s
if (!exists("dir")) dir = "reports/latest"
if (!exists("out")) out = dir."/batch.png"
# ci/plots.sh hands over a tab-separated copy (data='DIR', tsv=1): gnuplot
# does not understand CSV quoting, and test names may hold commas.
if (!exists("data")) data = dir
if (!exists("tsv")) tsv = 0
f = data."/summary.".(tsv ? "tsv" : "csv")

if (tsv) { set datafile separator tab } else { set datafile separator comma }
stats f skip 1 using (strcol(6) eq "PASS" ? 1 : 0) nooutput name "Y"
stats f skip 1 using 8 nooutput name "T"

W = (Y_records * 70 + 200 > 800) ? Y_records * 70 + 200 : 800
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size W,520 noenhanced font ",10"
} else {
    set terminal png size W,520 noenhanced
}
set output out
set title sprintf("Batch: %d of %d tokens passed (yield %.1f%%) — %s", \
    Y_sum, Y_records, 100.0 * Y_sum / Y_records, dir)
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.7
set ylabel "tests"
set xlabel "slot / serial"
set yrange [0 : T_max * 1.25 + 1]
set xtics rotate by -30 scale 0
set grid ytics
set key outside right top
verdict_color(v) = v eq "PASS" ? 0x208020 : v eq "FAIL" ? 0xc02020 : v eq "ERROR" ? 0xe08000 : 0x808080
plot f skip 1 using 9:xtic(strcol(3)."/".strcol(4)) lc rgb "#40a040" title "passed", \
     '' skip 1 using 10 lc rgb "#d03030" title "failed", \
     '' skip 1 using 11 lc rgb "#f0a020" title "errored", \
     '' skip 1 using 12 lc rgb "#b0b0b0" title "skipped", \
     '' skip 1 using ($0):($8):(strcol(6)):(verdict_color(strcol(6))) \
        with labels offset 0,1 tc rgb variable font ",11" notitle
unset output
