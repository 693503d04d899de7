/** Small helpers for writing captions in English and Chinese from attributes. */

/** "a" or "an" before an English word (by its first letter, which suffices for our vocabulary). */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

const COUNT_EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const COUNT_ZH = ["零个", "一个", "两个", "三个", "四个", "五个", "六个", "七个", "八个", "九个"];

/** Counted noun phrase in English: "a red circle", "three red circles". */
export function countedEn(count: number, adjective: string, one: string, many: string): string {
  if (count === 1) return `${article(adjective)} ${adjective} ${one}`;
  return `${COUNT_EN[count] ?? String(count)} ${adjective} ${many}`;
}

/** Chinese count with measure word 个: 一个, 两个, 三个… */
export function countZh(count: number): string {
  return COUNT_ZH[count] ?? `${count}个`;
}
