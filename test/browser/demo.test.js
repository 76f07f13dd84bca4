// Drives the `sfconnect dev` page in headless Chromium: edits an Account on
// the Salesforce side and checks that the web-app (Cosmos) column shows it,
// edits another on the web-app side and checks that the Salesforce column
// shows it, checks that the echo count stays 0 while the source tagged the
// sink's write, and saves a screenshot. Every wait is bounded.
//
// Usage: node demo.test.js <page URL> <screenshot.png>
// Prints one JSON line with what it did; exits non-zero on any failure.
"use strict";
const { chromium } = require("playwright-core");

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node demo.test.js <page URL> <screenshot.png>");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const WAIT = 45000; // bound on each wait for the loop to carry an edit

// presentSeeded returns the Ids of seeded Accounts both columns hold: the
// generator never deletes those.
async function presentSeeded(page) {
  return page.evaluate(() => {
    const ids = [];
    for (const tr of document.querySelectorAll("#sf-rows tr")) {
      const name = tr.querySelector("td.name");
      const web = document.querySelector(`#web-rows tr[data-id="${tr.dataset.id}"]`);
      if (name && name.textContent.startsWith("Seeded") && web && !web.classList.contains("missing")) ids.push(tr.dataset.id);
    }
    return ids;
  });
}

// cellText waits until a column's row for id shows want in the name and
// city cells.
async function waitRow(page, rows, id, name, city) {
  await page.waitForFunction(([rows, id, name, city]) => {
    const tr = document.querySelector(`#${rows} tr[data-id="${id}"]`);
    return !!tr && tr.querySelector("td.name")?.textContent === name && tr.querySelector("td.city")?.textContent === city;
  }, [rows, id, name, city], { timeout: WAIT });
}

async function edit(page, side, id, name, city) {
  await page.selectOption(`#${side}-id`, id);
  await page.fill(`#${side}-name`, name);
  await page.fill(`#${side}-city`, city);
  await page.click(`#${side}-save`);
  await page.waitForFunction((side) => document.getElementById(`${side}-result`).textContent !== "saving…" &&
    document.getElementById(`${side}-result`).textContent !== "", side, { timeout: WAIT });
  const result = await page.textContent(`#${side}-result`);
  if (result !== "saved") throw new Error(`${side} edit of ${id}: ${result}`);
}

(async () => {
  const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"], timeout: 60000 });
  const out = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    page.setDefaultTimeout(WAIT);
    await page.goto(url, { timeout: 30000 });
    await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
    // The seeded Accounts reach the container through the source and the
    // Cosmos sink first.
    await page.waitForFunction(() => {
      let n = 0;
      for (const tr of document.querySelectorAll("#sf-rows tr")) {
        const web = document.querySelector(`#web-rows tr[data-id="${tr.dataset.id}"]`);
        if (tr.querySelector("td.name")?.textContent.startsWith("Seeded") && web && !web.classList.contains("missing")) n++;
      }
      return n >= 2;
    }, null, { timeout: WAIT });
    const [sfID, webID] = await presentSeeded(page);
    const stamp = Date.now().toString(36);

    // Salesforce → web app.
    out.salesforceEdit = { id: sfID, name: `Edited in Salesforce ${stamp}`, city: "Lisbon" };
    await edit(page, "sf", sfID, out.salesforceEdit.name, out.salesforceEdit.city);
    await waitRow(page, "web-rows", sfID, out.salesforceEdit.name, out.salesforceEdit.city);

    // Web app → Salesforce, and back into the container through the
    // source, tagged.
    out.webEdit = { id: webID, name: `Edited in the web app ${stamp}`, city: "Porto" };
    await edit(page, "web", webID, out.webEdit.name, out.webEdit.city);
    await waitRow(page, "sf-rows", webID, out.webEdit.name, out.webEdit.city);
    await waitRow(page, "web-rows", webID, out.webEdit.name, out.webEdit.city);
    // The sink's write comes back through the source: tagged (suppressed),
    // or, if loop prevention were broken, as an echo; stop at either.
    await page.waitForFunction(() => Number(document.getElementById("suppressed-count").textContent) >= 1 ||
      Number(document.getElementById("echo-count").textContent) > 0, null, { timeout: WAIT });

    out.echoes = await page.textContent("#echo-count");
    out.suppressed = await page.textContent("#suppressed-count");
    if (out.echoes !== "0") throw new Error(`echo count is ${out.echoes}, want 0`);
    // The status panel is filled from the connectors' metrics.
    out.channels = await page.$$eval("#channels tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    out.sinks = await page.$$eval("#sinks tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    out.apiBudget = await page.textContent("#api-budget");
    await page.screenshot({ path: screenshot, fullPage: true });
    out.screenshot = screenshot;
    console.log(JSON.stringify(out));
  } finally {
    await browser.close();
  }
})().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
