// Quantities read aloud with their uncertainty, as a reporter would: "about 10,000 troops",
// "at least 65 killed", "fighter jets — number not stated".

const number = (n) => Number(n).toLocaleString("en-US");

const ASSET_NOUNS = {
  AIRCRAFT_CARRIER: ["aircraft carrier", "aircraft carriers"],
  WARSHIP: ["warship", "warships"],
  SUBMARINE: ["submarine", "submarines"],
  TROOPS: ["troops", "troops"],
  FIGHTER_JET: ["fighter jet", "fighter jets"],
  BOMBER: ["bomber", "bombers"],
  DRONE: ["drone", "drones"],
  HELICOPTER: ["helicopter", "helicopters"],
  AIRCRAFT: ["aircraft", "aircraft"],
  MISSILE_SYSTEM: ["missile system", "missile systems"],
  AIR_DEFENSE: ["air-defence system", "air-defence systems"],
  ARMORED_VEHICLE: ["armoured vehicle", "armoured vehicles"],
  ARTILLERY: ["artillery piece", "artillery pieces"],
  OTHER: ["asset", "assets"],
};

/** "about 10,000", "at least 65"…; null when the quantity states no number (every figure of a
 *  Quantity is optional, whatever its approximation says). */
function amountOf(q) {
  switch (q?.approximation) {
    case "EXACT":
      return q.amount != null ? number(q.amount) : null;
    case "APPROXIMATELY":
      return q.amount != null ? `about ${number(q.amount)}` : null;
    case "AT_LEAST":
      return (q.lowerBound ?? q.amount) != null ? `at least ${number(q.lowerBound ?? q.amount)}` : null;
    case "AT_MOST":
      return (q.upperBound ?? q.amount) != null ? `at most ${number(q.upperBound ?? q.amount)}` : null;
    case "RANGE":
      return q.lowerBound != null && q.upperBound != null ? `between ${number(q.lowerBound)} and ${number(q.upperBound)}` : null;
  }
  return null;
}

/** "about 10,000" + noun; with no number stated, "<noun> — number not stated". */
export function readQuantity(q, noun = "") {
  const amount = amountOf(q);
  if (amount === null) return `${noun || "quantity"} — number not stated`;
  return noun ? `${amount} ${noun}` : amount;
}

/** An asset's quantity with its type as the noun, singular for exactly one. */
export function readAsset(asset) {
  const [one, many] = ASSET_NOUNS[asset.assetType] ?? ASSET_NOUNS.OTHER;
  const q = asset.quantity ?? { approximation: "UNSPECIFIED" };
  const single = q.approximation === "EXACT" && q.amount === 1;
  return readQuantity(q, single ? one : many);
}

/** An incident's figures: "16 attacks", "at least 65 killed", "injured — number not stated". */
export function readIncidentFigures(incident) {
  const out = [];
  if (incident.count) out.push(readQuantity(incident.count, incident.count.unit || "events"));
  for (const [field, verb] of [["fatalities", "killed"], ["injuries", "injured"]]) {
    const q = incident[field];
    if (!q) continue;
    const amount = amountOf(q);
    out.push(amount === null ? `${verb} — number not stated` : `${amount} ${verb}`);
  }
  return out;
}
