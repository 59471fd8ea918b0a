/** What every bench/*.bench.ts returns from main(): a markdown section for docs/benchmarks.md. */
export interface BenchSection {
    title: string;
    lines: string[];
}

/** Runs a bench on its own (`npx ts-node bench/x.bench.ts`) and prints its section. */
export function runStandalone(main: () => Promise<BenchSection>): void {
    main().then(
        ({ title, lines }) => {
            console.log(`## ${title}\n`);
            console.log(lines.join("\n"));
        },
        (err) => {
            console.error(err);
            process.exitCode = 1;
        },
    );
}
