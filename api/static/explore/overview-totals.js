// Totals that keep their uncertainty, read from the API's bounded sums the way the cards read one
// quantity: "at least 65 killed (16 attacks)", "≈ 10,000 personnel, plus fighter jets and drones
// of unstated number". A sum is {unit, count, low, best, high, openUpper, unknown, approximate}.

import { el } from "./dom.js";

const number = (n) => Number(n).toLocaleString("en-US");

const ONE = {
  aircraftCarrier: "aircraft carrier", warship: "warship", submarine: "submarine", fighterJet: "fighter jet",
  bomber: "bomber", drone: "drone", helicopter: "helicopter", missileSystem: "missile system",
  airDefense: "air-defence system", armoredVehicle: "armoured vehicle", artillery: "artillery piece",
}; // prettier-ignore
const ASSET_NOUNS = {
  aircraftCarrier: "aircraft carriers", warship: "warships", submarine: "submarines", troops: "troops",
  fighterJet: "fighter jets", bomber: "bombers", drone: "drones", helicopter: "helicopters", aircraft: "aircraft",
  missileSystem: "missile systems", airDefense: "air-defence systems", armoredVehicle: "armoured vehicles",
  artillery: "artillery pieces", other: "other assets",
}; // prettier-ignore

/** "16", "≈ 10,000", "at least 65", "between 3 and 9", "≈ 50 (40 to 60)"; null when the sum
 *  knows no number at all (every quantity in it unstated). */
export function readSum(s) {
  if (!s || s.count === s.unknown) return null;
  if (s.high === null) return s.low > 0 ? `at least ${number(s.low)}` : null;
  if (s.low === s.high) return s.approximate ? `≈ ${number(s.best)}` : number(s.best);
  if (s.approximate) return `≈ ${number(s.best)} (${number(s.low)} to ${number(s.high)})`;
  return `between ${number(s.low)} and ${number(s.high)}`;
}

const list = (words) => (words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`);

/** The incidents' line: "at least 65 killed (16 attacks), 3 injured". */
export function readIncidents(agg) {
  const parts = [];
  const killed = agg.fatalities.map((s) => [readSum(s), s.unit]).filter(([n]) => n);
  const counts = agg.count.map((s) => [readSum(s), s.unit || "events"]).filter(([n]) => n);
  if (killed.length) {
    const sub = counts.length ? ` (${counts.map(([n, unit]) => `${n} ${unit}`).join(", ")})` : "";
    parts.push(`${killed.map(([n]) => n).join(" + ")} killed${sub}`);
  } else if (counts.length) {
    parts.push(counts.map(([n, unit]) => `${n} ${unit}`).join(", "));
  }
  const injured = agg.injuries.map(readSum).filter(Boolean);
  if (injured.length) parts.push(`${injured.join(" + ")} injured`);
  return parts.join(", ");
}

/** The deployments' line from sums grouped by asset type: "≈ 10,000 personnel, 8 warships, plus
 *  fighter jets and drones of unstated number". */
export function readAssets(agg) {
  const stated = [];
  const unstated = [];
  for (const group of agg.groups) {
    const noun = ASSET_NOUNS[group.key] ?? group.key ?? "assets";
    let said = false;
    for (const s of group.assets) {
      const n = readSum(s);
      if (n) {
        const single = n === "1" && !s.unit && ONE[group.key];
        stated.push(`${n} ${single || s.unit || noun}`);
        said = true;
      }
    }
    if (!said) unstated.push(noun);
  }
  const tail = unstated.length ? `${stated.length ? "plus " : ""}${list(unstated)} of unstated number` : "";
  return [...stated, tail].filter(Boolean).join(", ");
}

/** The totals panel's content. */
export function renderTotals(data) {
  const inc = data.incidents;
  const dep = data.deployments;
  const plural = (n, one, many) => `${number(n)} ${n === 1 ? one : many}`;
  return [
    el(
      "p",
      { class: "total", dataset: { total: "incidents" } },
      el("strong", {}, plural(inc.totalCount, "incident", "incidents")),
      inc.totalCount ? `: ${readIncidents(inc.aggregate) || "no figures stated"}` : "",
    ),
    el(
      "p",
      { class: "total", dataset: { total: "deployments" } },
      el("strong", {}, plural(dep.totalCount, "deployment", "deployments")),
      dep.totalCount ? `: ${readAssets(dep.aggregate) || "no assets stated"}` : "",
    ),
    el(
      "p",
      { class: "total", dataset: { total: "claims" } },
      el("strong", {}, plural(data.claims.totalCount, "claim", "claims")),
      ` in ${plural(data.articleTime.totalCount, "article", "articles")}`,
    ),
  ];
}
