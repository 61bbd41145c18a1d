#!/usr/bin/env bash
# Refresh static/vendor/ from the npm registry (maintainers only; the files are committed,
# because bank intranets have no CDN and `make run` must work offline).
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(htmx.org@2.0.11 bootstrap@5.3.9 sortablejs@1.15.7 echarts@6.1.0 drawflow@0.0.60)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "${PACKAGES[@]}" >/dev/null)
for tgz in "$work"/*.tgz; do
  name=$(basename "$tgz" .tgz)
  mkdir -p "$work/$name" && tar xzf "$tgz" -C "$work/$name"
done
out=static/vendor
rm -rf "$out" && mkdir -p "$out"/{htmx,bootstrap,sortablejs,echarts,drawflow}
copy() { # src dest: copy without source-map comments (the maps are not shipped)
  sed -e '/sourceMappingURL=/d' "$1" > "$2"
}
copy "$work"/htmx.org-*/package/dist/htmx.min.js "$out/htmx/htmx.min.js"
copy "$work"/bootstrap-*/package/dist/css/bootstrap.min.css "$out/bootstrap/bootstrap.min.css"
copy "$work"/bootstrap-*/package/dist/js/bootstrap.bundle.min.js "$out/bootstrap/bootstrap.bundle.min.js"
copy "$work"/sortablejs-*/package/Sortable.min.js "$out/sortablejs/Sortable.min.js"
copy "$work"/echarts-*/package/dist/echarts.min.js "$out/echarts/echarts.min.js"
copy "$work"/drawflow-*/package/dist/drawflow.min.js "$out/drawflow/drawflow.min.js"
copy "$work"/drawflow-*/package/dist/drawflow.min.css "$out/drawflow/drawflow.min.css"
for lib in htmx.org:htmx bootstrap:bootstrap sortablejs:sortablejs echarts:echarts drawflow:drawflow; do
  pkg=${lib%%:*} dir=${lib##*:}
  src=$(ls -d "$work/$pkg"-*/package)
  cp "$src"/LICENSE* "$out/$dir/" 2>/dev/null || true
done
printf '%s\n' "${PACKAGES[@]}" > "$out/VERSIONS"
echo "vendored: ${PACKAGES[*]}"
