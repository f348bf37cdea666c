# Shared by the detection scripts (scenario-, explore- and mix-detection.sh):
# source it, do not run it.

# median X... : the median of the numbers, one decimal, or "-" for none.
median() {
  python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(round(statistics.median(v),1) if v else "-")' "$@"
}

# parse_item BUG[@KINDS][:WORKLOAD] : sets bug, kinds (default all) and
# workload (default register).
parse_item() {
  local item=$1
  workload=register
  if [[ $item == *:* ]]; then
    workload=${item#*:}
    item=${item%%:*}
  fi
  bug=${item%%@*}
  kinds=all
  if [[ $item == *@* ]]; then kinds=${item#*@}; fi
}
