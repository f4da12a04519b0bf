/** Asking before a command changes anything, the same way for every command. */

/** The part of a terminal a question needs. */
export interface Asking {
    err(text: string): void;
    /** The line typed in answer to `question`, or undefined when the input has ended. */
    ask(question: string): Promise<string | undefined>;
}

/** Asks `question` (yes/no); says that nothing was changed unless the answer is yes. */
export async function confirmed(terminal: Asking, question: string): Promise<boolean> {
    const answer = await terminal.ask(`${question} (yes/no) `);
    if (answer !== undefined && /^y(es)?$/i.test(answer.trim())) return true;
    terminal.err(answer === undefined ? "No answer (the input has ended): nothing was changed. --yes changes without asking.\n" : "Nothing was changed.\n");
    return false;
}
