const numbers = new Intl.NumberFormat();

/** "1 job", "2 jobs", "1,204 jobs": a count with its noun in the right number. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${numbers.format(n)} ${n === 1 ? one : many}`;
}
