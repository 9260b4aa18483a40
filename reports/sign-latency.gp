# sign-latency.gp — histogram of signing latency, one panel per slot, from
# samples.csv of a run (the samples of `measure` blocks).
#
#   gnuplot -e "dir='reports/RUN'" reports/sign-latency.gp
# Optional: -e "metric='sign'"  samples whose metric name contains this
#                               (default "sign"; "" takes every metric)
#           -e "out='x.png'"    default DIR/sign-latency.png
# samples.csv columns: 1 time, 2 slot, 3 serial, 4 suite, 5 test, 6 metric,
#                      7 index, 8 value, 9 unit
if (!exists("dir")) dir = "reports/latest"
if (!exists("metric")) metric = "sign"
if (!exists("out")) out = dir."/sign-latency.png"
# ci/plots.sh hands over a tab-separated copy (data='DIR', tsv=1): gnuplot
# does not understand CSV quoting, and test names may hold commas.
if (!exists("data")) data = dir
if (!exists("tsv")) tsv = 0
f = data."/samples.".(tsv ? "tsv" : "csv")

if (tsv) { set datafile separator tab } else { set datafile separator comma }
wanted(m) = strlen(metric) == 0 || strstrt(m, metric) > 0

# Which slots have wanted samples (space-separated list), and the overall
# range so that every panel shares one x axis.
slots = ""
stats f skip 1 using (wanted(strcol(6)) ? 1 : 0) nooutput name "N"
if (N_sum == 0) {
    set terminal png size 640,240
    set output out
    unset border; unset tics
    set label 1 sprintf("no samples with metric matching '%s' in %s", metric, f) at graph 0.5,0.5 center
    plot [0:1][0:1] NaN notitle
    unset output
    print "sign-latency.gp: no matching samples; wrote an empty note to ".out
    exit
}
stats f skip 1 using (wanted(strcol(6)) ? (s = strcol(2), \
      (strstrt(slots, " ".s." ") == 0 ? slots = slots." ".s." " : 0), $8) : NaN) \
      nooutput name "ALL"

n = words(slots)
cols = ceil(sqrt(n))
rows = ceil(real(n) / cols)
bins = 40
# all samples equal: a 1 ms wide window centred on them
lo = (ALL_max > ALL_min) ? ALL_min : ALL_min - 0.5
hi = (ALL_max > ALL_min) ? ALL_max : ALL_min + 0.5
width = (hi - lo) / bins
bin(x) = lo + width * (floor((x - lo) / width) + 0.5)

W = 560 * cols; H = 380 * rows + 40
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size W,H noenhanced font ",10"
} else {
    set terminal png size W,H noenhanced
}
set output out
set multiplot layout rows,cols title sprintf("Signing latency per slot (metric ~ '%s', %d samples) — %s", \
    metric, N_sum, dir)
set style fill solid 0.6 border -1
set boxwidth width
set xrange [lo - width : hi + width]
set xlabel "latency (ms)"
set ylabel "samples"
set grid ytics
set key top right
do for [i = 1:n] {
    s = word(slots, i)
    stats f skip 1 using (strcol(2) eq s && wanted(strcol(6)) ? $8 : NaN) nooutput name "S"
    set title sprintf("%s: n=%d  mean=%.2f  median=%.2f  max=%.2f ms", s, S_records, S_mean, S_median, S_max)
    # weight 0 for other slots' rows rather than NaN: an undefined point
    # splits the data into blocks and `smooth frequency` counts per block
    plot f skip 1 using (bin($8)):(strcol(2) eq s && wanted(strcol(6)) ? 1 : 0) \
         smooth frequency with boxes lc rgb "#3070b0" title s
}
unset multiplot
unset output
