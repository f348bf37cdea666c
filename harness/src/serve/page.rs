//! The pages `faultline serve` draws: the index of every run (the rows as
//! JSON in the page, drawn and filtered by its script) and the listing of
//! a folder without an `index.html`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use super::listing::Listing;
use crate::report::esc;

/// `s` percent-encoded for a URL path, `/` kept.
pub fn url_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// The rows of `listing` as the index page's script reads them: each
/// run an array, its repeated strings (suite, system, workload, faults,
/// version, commit, status) as indices into one list per column, so that
/// 10,000 runs are under a megabyte to send and parse.
pub fn compact(listing: &Listing) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut cols: BTreeMap<&str, (Vec<String>, HashMap<String, usize>)> = BTreeMap::new();
    let mut id = |col: &'static str, v: Option<&str>| -> Value {
        let Some(v) = v else { return Value::Null };
        let (list, index) = cols.entry(col).or_default();
        let n = *index.entry(v.to_string()).or_insert_with(|| {
            list.push(v.to_string());
            list.len() - 1
        });
        json!(n)
    };
    let rows: Vec<Value> = listing
        .runs
        .iter()
        .map(|r| {
            json!([
                r.path,
                id("suite", r.suite.as_deref()),
                id("system", Some(&r.system)),
                id("workload", Some(&r.workload)),
                id("faults", Some(&r.faults)),
                r.seed,
                id("version", r.version.as_deref()),
                id("commit", r.commit.as_deref()),
                r.started,
                id("status", Some(r.status.name())),
                r.ttd,
                r.seconds
            ])
        })
        .collect();
    let cols: BTreeMap<&str, Vec<String>> = cols.into_iter().map(|(k, (l, _))| (k, l)).collect();
    json!({"cols": cols, "rows": rows, "suites": listing.suites})
}

/// The index page of `listing`, the store at `store`.
pub fn index(listing: &Listing, store: &Path) -> String {
    // Inside <script>, `</` would end the element: JSON may write it `<\/`.
    let data = compact(listing)
        .to_string()
        .replace("</", "<\\/")
        .replace("<!--", "<\\!--");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>runs — faultline</title><style>{CSS}</style></head><body>\
         <h1>faultline runs</h1><p><a href=\"/trend\">trend</a> · <span id=\"count\"></span> · \
         store <code>{}</code> · <a href=\"/api/runs\">runs.json</a></p>\
         <details id=\"suites\" open><summary>suites</summary><table><thead><tr><th>suite</th>\
         <th>started</th><th>shard</th><th>runs</th><th></th></tr></thead><tbody id=\"suite-rows\">\
         </tbody></table></details>\
         <form id=\"filters\">\
         <select name=\"system\"></select> <select name=\"workload\"></select> \
         <select name=\"faults\"></select> <select name=\"status\"></select> \
         <select name=\"suite\"></select> from <input type=\"date\" name=\"from\"> \
         to <input type=\"date\" name=\"to\"> <a href=\"#\">clear</a></form>\
         <table id=\"runs\"><thead><tr><th>started (UTC)</th><th>system</th><th>version</th>\
         <th>workload</th><th>scenario / faults</th><th>seed</th><th>verdict</th>\
         <th>detected (s)</th><th>took (s)</th><th>commit</th><th>suite</th><th>files</th>\
         </tr></thead><tbody id=\"rows\"></tbody></table><p id=\"more\"></p>\
         <script id=\"data\" type=\"application/json\">{data}</script><script>{JS}</script>\
         </body></html>\n",
        esc(&store.display().to_string())
    )
}

/// The listing of the folder `dir` (shown at `url`, ending in `/`).
pub fn folder(dir: &Path, url: &str) -> String {
    let mut entries: Vec<(String, bool)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let is_dir = e.path().is_dir();
                    (e.file_name().to_string_lossy().into_owned(), is_dir)
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0} — faultline</title>\
         <style>{CSS}</style></head><body><h1>{0}</h1><p><a href=\"/\">runs</a> · \
         <a href=\"../\">up</a></p><ul>",
        esc(url)
    );
    for (name, is_dir) in entries {
        let slash = if is_dir { "/" } else { "" };
        let _ = write!(
            h,
            "<li><a href=\"{}{slash}\">{}{slash}</a></li>",
            url_path(&name),
            esc(&name)
        );
    }
    h.push_str("</ul></body></html>\n");
    h
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#1d2430}\
table{border-collapse:collapse}td,th{border-top:1px solid #dde1e7;padding:3px 8px;text-align:left}\
th{position:sticky;top:0;background:#fff}form{margin:10px 0}\
.v{display:inline-block;padding:0 7px;border-radius:4px;color:#fff;font-weight:700;font-size:.85em}\
.valid{background:#2f8f4e}.invalid{background:#c9302c}.unknown{background:#c88a12}\
.running{background:#2b6cb0}.unfinished{background:#6b7380}code,.mono{font-family:monospace}";

/// Draws the rows of the data element; filters live in the URL's
/// fragment (`#status=invalid&system=etcd`), so a filtered view is a link.
const JS: &str = r##"(function(){
const D=JSON.parse(document.getElementById('data').textContent),C=D.cols,c=(k,i)=>i==null?null:C[k][i];
const R=D.rows.map(a=>({path:a[0],suite:c('suite',a[1]),system:c('system',a[2]),workload:c('workload',a[3]),
  faults:c('faults',a[4]),seed:a[5],version:c('version',a[6]),commit:c('commit',a[7]),started:a[8],
  status:c('status',a[9]),ttd:a[10],seconds:a[11]}));
const F=['system','workload','faults','status','suite'];
const form=document.getElementById('filters'),body=document.getElementById('rows');
const esc=s=>String(s==null?'':s).replace(/[&<>"']/g,c=>'&#'+c.charCodeAt(0)+';');
const enc=p=>p.split('/').map(encodeURIComponent).join('/');
const day=s=>s.slice(0,4)+'-'+s.slice(4,6)+'-'+s.slice(6,8);
const when=s=>day(s)+' '+s.slice(9,11)+':'+s.slice(11,13)+':'+s.slice(13,15);
const names={status:['valid','invalid','unknown','running','unfinished']};
for(const f of F){
  const vals=names[f]||[...new Set(R.map(r=>r[f]).filter(v=>v))].sort();
  form.elements[f].innerHTML='<option value="">every '+(f=='faults'?'scenario / faults':f)+'</option>'
    +vals.map(v=>'<option>'+esc(v)+'</option>').join('');
}
const suites=document.getElementById('suite-rows');
suites.innerHTML=D.suites.map(s=>{
  const mine=R.filter(r=>r.suite===s.path),by={};
  for(const r of mine)by[r.status]=(by[r.status]||0)+1;
  const counts=Object.keys(by).map(k=>'<span class="v '+k+'">'+by[k]+' '+k+'</span>').join(' ');
  return '<tr><td>'+esc(s.name)+' <small class="mono">'+esc(s.path)+'</small></td><td>'+when(s.started)
    +'</td><td>'+esc(s.shard)+'</td><td>'+mine.length+(s.planned?' of '+s.planned:'')+' '+counts
    +(s.finished?'':' <span class="v running">running</span>')+'</td><td>'
    +(s.finished?'<a href="/store/'+enc(s.path)+'/index.html">index</a> · ':'')
    +'<a href="#suite='+encodeURIComponent(s.path)+'">its runs</a></td></tr>';
}).join('');
if(!D.suites.length)document.getElementById('suites').hidden=true;
let limit=500;
function read(){
  const q=new URLSearchParams(location.hash.slice(1));
  for(const el of form.elements)if(el.name)el.value=q.get(el.name)||'';
}
function render(){
  const q={};
  for(const el of form.elements)if(el.name&&el.value)q[el.name]=el.value;
  const rows=R.filter(r=>F.every(f=>!q[f]||(r[f]||'')===q[f])
    &&(!q.from||day(r.started)>=q.from)&&(!q.to||day(r.started)<=q.to));
  const h=[];
  for(const r of rows.slice(0,limit)){
    const b='/store/'+enc(r.path)+'/',done=!['running','unfinished'].includes(r.status);
    h.push('<tr class="run"><td>'+when(r.started)+'</td><td>'+esc(r.system)+'</td><td>'+esc(r.version)
      +'</td><td>'+esc(r.workload)+'</td><td>'+esc(r.faults)+'</td><td>'+esc(r.seed)
      +'</td><td><span class="v '+r.status+'">'+r.status+'</span></td><td>'+esc(r.ttd)
      +'</td><td>'+esc(r.seconds)+'</td><td class="mono">'+esc(r.commit)+'</td><td>'
      +(r.suite?'<a href="#suite='+encodeURIComponent(r.suite)+'">'+esc(r.suite.split('/').pop())+'</a>':'')
      +'</td><td>'+(done?'<a class="report" href="'+b+'report.html">report</a> · ':'')
      +'<a href="'+b+'history.jsonl">history</a> · <a href="'+b+'">files</a></td></tr>');
  }
  body.innerHTML=h.join('');
  document.getElementById('count').textContent=rows.length+' of '+R.length+' runs';
  document.getElementById('more').innerHTML=rows.length>limit
    ?'showing '+limit+' of '+rows.length+' <button id="next">500 more</button> <button id="all">all</button>':'';
  const next=document.getElementById('next'),all=document.getElementById('all');
  if(next)next.onclick=()=>{limit+=500;render();};
  if(all)all.onclick=()=>{limit=Infinity;render();};
  document.body.dataset.shown=rows.length;
}
form.addEventListener('change',()=>{
  const q=new URLSearchParams();
  for(const el of form.elements)if(el.name&&el.value)q.set(el.name,el.value);
  history.replaceState(null,'','#'+q);render();
});
window.addEventListener('hashchange',()=>{read();render();});
read();render();
const nav=performance.getEntriesByType('navigation')[0];
if(nav){document.body.dataset.firstByteMs=Math.round(nav.responseStart);document.body.dataset.loadedMs=Math.round(nav.responseEnd);}
document.body.dataset.renderedMs=Math.round(performance.now());
document.body.dataset.originMs=Math.round(performance.timeOrigin);
console.log('faultline-serve: rendered '+R.length+' runs in '+document.body.dataset.renderedMs+' ms');
requestAnimationFrame(()=>{document.body.dataset.paintedMs=Math.round(performance.now());});
})();"##;
