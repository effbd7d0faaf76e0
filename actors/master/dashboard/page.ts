/**
 * The dashboard's one HTML page. Styles are inline (one request fewer); the script is the front
 * end's entry module, served from the compiled dashboard/ sources (see register-dashboard.ts).
 */
const STYLE = `
:root { color-scheme: light dark; --muted: #888; --line: #8884; --ok: #2a7; --bad: #d33; --warn: #c80; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1rem 2rem; }
h1 { font-size: 1.2rem; margin: .8rem 0; } h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
#status { font-size: .8rem; color: var(--muted); margin-left: .6rem; }
table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.state-attached { color: var(--ok); } .state-detached, .state-detaching { color: var(--bad); } .state-attaching { color: var(--warn); }
.command { border: 1px solid var(--line); border-radius: 4px; margin: .4rem 0; }
.command > header { display: flex; gap: .8rem; padding: .2rem .5rem; background: #8881; }
.command .rc-ok { color: var(--ok); } .command .rc-bad { color: var(--bad); }
pre.output { margin: 0; padding: .3rem .5rem; max-height: 14rem; overflow: auto; font-size: 12px; }
.stdout { } .stderr { color: var(--bad); } .header { color: #36c; font-style: italic; }
progress { width: 16rem; vertical-align: middle; }
.machines { display: flex; gap: 1rem; align-items: flex-start; }
.machines ul { list-style: none; padding: 0; margin: 0; min-width: 14rem; max-height: 30rem; overflow: auto; }
#workers tr.linked { cursor: pointer; } .machines li { cursor: pointer; padding: .1rem .3rem; } .machines li.selected { background: #36c3; }
svg.machine { border: 1px solid var(--line); max-width: 100%; height: auto; }
svg.machine rect { fill: #8881; stroke: #888; } svg.machine g.current rect { fill: #2a74; stroke: #2a7; stroke-width: 2; }
svg.machine text { font: 11px system-ui, sans-serif; fill: currentColor; } svg.machine path { fill: none; stroke: #888; }
svg.machine text.edge { fill: var(--muted); font-size: 9px; }
`;

export function dashboardPage(basePath: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ampstate farm</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body data-base="${basePath}">
<h1>ampstate farm <span id="status">connecting…</span></h1>
<h2>Workers</h2>
<table id="workers"><thead><tr><th>name</th><th>protocol</th><th>state</th><th>builders</th><th>info</th><th>attached</th><th>last seen</th></tr></thead><tbody></tbody></table>
<h2>Commands</h2><div id="commands"></div>
<h2>Transfers</h2><table id="transfers"><thead><tr><th>worker</th><th>what</th><th>progress</th><th>bytes</th><th>rate</th></tr></thead><tbody></tbody></table>
<h2>Machines</h2><div class="machines"><ul id="actors"></ul><div id="machine"></div></div>
<script type="module" src="${basePath}/ui/main.js"></script>
</body></html>
`;
}
