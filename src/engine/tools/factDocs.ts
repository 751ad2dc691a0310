/**
 * A made-up encyclopedia: people and towns that exist nowhere else, generated from a fixed seed, so a
 * model can answer questions about them only by searching (search.ts) — the facts of the "use a tool"
 * lesson, and the held-out questions of the "I don't know" one.
 *
 *   factDocuments()[0]
 *   // { title: 'Marta Haldeido', text: 'The chemist Marta Haldeido came from Quenesk. She was born in 1760.
 *   //   Marta Haldeido is best known for inventing the silent printing press. …' }
 *   generateFactQuestions({ split: 'train' })[0]
 *   // { question: 'When was Marta Haldeido born?', answer: '1760', query: 'Marta Haldeido', key: 'Marta Haldeido' }
 *   await writeFactDocs('/tmp/facts')   // people/marta-haldeido.md, towns/quenesk.md, …
 *
 * The collection is the same everywhere (FACT_SEED): FACT_PEOPLE people, each with a job, a home town,
 * a birth year, a unique invention, a prize and a pet; FACT_TOWNS towns, each with a province, a river,
 * a founding year and what it is known for. Names are unique, and no name, town or invention shares a
 * word with another entity's name, so a search for a name finds its entity. A question's `query` is
 * what a model should write into the search call: the name (or the invention) copied from the question.
 * A question's `key` is its entity's name: an entity's hash puts all its questions in the held-out
 * split (1 in 5) or all in train. Only ASCII.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../train/rng';
import { fill, pick } from '../chat/chatWork';
import type { SearchDocument } from './search';

export const FACT_SEED = 16_2026;
export const FACT_PEOPLE = 100;
export const FACT_TOWNS = 25;

export interface FactPerson {
  kind: 'person';
  name: string;
  she: boolean;
  job: string;
  town: string;
  born: number;
  invention: string;
  prize: string;
  pet: string;
}

export interface FactTown {
  kind: 'town';
  name: string;
  province: string;
  river: string;
  founded: number;
  knownFor: string;
}

export type FactEntity = FactPerson | FactTown;

export interface FactQuestion {
  question: string;
  /** Exactly as the entity's document writes it. */
  answer: string;
  /** The search a model should make: the name (or invention) as the question writes it. */
  query: string;
  /** The entity's name: the split keeps each key on one side. */
  key: string;
}

// ---- the pools ----------------------------------------------------------------------------------

const SHE =
  'Marta Ilse Odile Brenna Sabeth Livia Neve Carys Tamsin Ysolde Fenna Rosalind Agathe Mireille Hedda Liesl Orla Petra Sunniva Vesna'.split(
    ' ',
  );
const HE =
  'Tomas Anselm Corin Dario Emeric Fintan Gideon Halvard Ivo Jory Leopold Mattias Niklas Osric Pascal Ruben Severin Teodor Ulric Wendel'.split(
    ' ',
  );
const SURNAME = [
  'Quill Drask Marrow Vent Halde Orsk Pell Brun Castel Thorn Wick Lorr Ambr Fenn Gald Stav'.split(' '),
  'on ley aux ido ett mere ing ova en ard'.split(' '),
];
const TOWN = [
  'Estr Vall Orm Kest Bral Tiv Sarn Dol Mer Hask Quen Lind'.split(' '),
  'avel ona esk ingham ford urne ach ith oria enz'.split(' '),
];
const JOBS =
  'glassblower clockmaker cartographer botanist bookbinder astronomer shipwright beekeeper locksmith chemist weaver surveyor printer potter tanner mapmaker'.split(
    ' ',
  );
const ADJECTIVES =
  'double-walled folding self-winding floating three-wheeled copper silent mirrored steam-driven collapsible waterproof spring-loaded twin-bladed hinged rotating pocket'.split(
    ' ',
  );
const NOUNS = [
  'lantern',
  'loom',
  'compass',
  'kettle',
  'ladder',
  'telescope',
  'bicycle',
  'clock',
  'pump',
  'printing press',
  'umbrella',
  'sextant',
  'bellows',
  'plough',
  'music box',
  'diving bell',
];
const PRIZES = [
  'Orrin Medal',
  'Vesper Prize',
  'Golden Awl',
  'Halloway Cup',
  'Brightwater Award',
  'Order of the Lamp',
];
const PETS = 'heron fox tortoise parrot goat raven ferret owl hedgehog donkey'.split(' ');
const PROVINCES = ['Vell', 'Oskaria', 'Tarnmarch', 'Lower Brisk', 'Hollin', 'Carrowmere'];
const RIVERS = 'Osk Varrow Tamble Ise Morrent Callow Dree Fennet'.split(' ');
const KNOWN_FOR = [
  'salt markets',
  'copper bells',
  'blue cheese',
  'leaning clock tower',
  'paper mills',
  'winter fair',
  'glass furnaces',
  'horse races',
  'rope walks',
  'stone bridges',
  'apple orchards',
  'puppet theatre',
];

// ---- the collection -----------------------------------------------------------------------------

let cached: { entities: FactEntity[]; docs: SearchDocument[] } | undefined;

function build() {
  const rng = new Rng(FACT_SEED);
  const words = new Set<string>(); // every name word in use: a new name must not reuse one
  const fresh = (make: () => string) => {
    for (;;) {
      const name = make();
      const ws = name.toLowerCase().split(' ');
      // a first name may repeat (Marta Haldeido, Marta Drasken): the surname and town must not
      const own = ws.slice(-1);
      if (own.some((w) => words.has(w))) continue;
      own.forEach((w) => words.add(w));
      return name;
    }
  };
  const towns: FactTown[] = [];
  for (let i = 0; i < FACT_TOWNS; i++) {
    const name = fresh(() => pick(rng, TOWN[0]) + pick(rng, TOWN[1]));
    const founded = 900 + rng.randint(750);
    towns.push({
      kind: 'town',
      name,
      province: pick(rng, PROVINCES),
      river: pick(rng, RIVERS),
      founded,
      knownFor: pick(rng, KNOWN_FOR),
    });
  }
  SHE.concat(HE).forEach((w) => words.add(w.toLowerCase()));
  const inventions = new Set<string>();
  const people: FactPerson[] = [];
  for (let i = 0; i < FACT_PEOPLE; i++) {
    const she = rng.next() < 0.5;
    const first = pick(rng, she ? SHE : HE);
    const name = fresh(() => `${first} ${pick(rng, SURNAME[0])}${pick(rng, SURNAME[1])}`);
    let invention: string;
    do invention = `${pick(rng, ADJECTIVES)} ${pick(rng, NOUNS)}`;
    while (inventions.has(invention));
    inventions.add(invention);
    people.push({
      kind: 'person',
      name,
      she,
      job: pick(rng, JOBS),
      town: pick(rng, towns).name,
      born: 1700 + rng.randint(250),
      invention,
      prize: pick(rng, PRIZES),
      pet: pick(rng, PETS),
    });
  }
  const entities: FactEntity[] = [...people, ...towns];
  const docs = entities.map((e) => ({
    title: e.name,
    text: e.kind === 'person' ? personText(rng, e) : townText(rng, e),
  }));
  return { entities, docs };
}

const PERSON_SENTENCES = [
  [
    '{N} was a {job} from the town of {town}.',
    'The {job} {N} came from {town}.',
    '{N} was a {job} who grew up in the town of {town}.',
  ],
  ['{P} was born in {born}.', '{N} was born in the year {born}.'],
  [
    '{P} invented the {invention}.',
    '{N} is best known for inventing the {invention}.',
    '{Poss} most famous invention is the {invention}.',
  ],
  [
    'In later life {p} won the {prize}.',
    '{P} was awarded the {prize}.',
    'For this work {N} received the {prize}.',
  ],
  ['{P} kept a {pet} as a pet.', '{N} was rarely seen without {poss} pet {pet}.'],
];
const TOWN_SENTENCES = [
  [
    '{N} is a town in the province of {province}, on the river {river}.',
    'The town of {N} lies on the river {river}, in the province of {province}.',
  ],
  ['It was founded in {founded}.', '{N} was founded in the year {founded}.'],
  ['{N} is known for its {knownFor}.', 'Travellers come to {N} for its {knownFor}.'],
];

function personText(rng: Rng, e: FactPerson): string {
  const v = {
    job: e.job,
    town: e.town,
    born: e.born,
    invention: e.invention,
    prize: e.prize,
    pet: e.pet,
    N: e.name,
    P: e.she ? 'She' : 'He',
    p: e.she ? 'she' : 'he',
    Poss: e.she ? 'Her' : 'His',
    poss: e.she ? 'her' : 'his',
  };
  return PERSON_SENTENCES.map((s) => fill(pick(rng, s), v)).join(' ');
}

function townText(rng: Rng, e: FactTown): string {
  return TOWN_SENTENCES.map((s) => fill(pick(rng, s), { ...e, N: e.name })).join(' ');
}

/** Every person and town of the collection. */
export function factEntities(): readonly FactEntity[] {
  return (cached ??= build()).entities;
}

/** The collection as documents for createSearchTool({ documents }): one per entity, titled by its name. */
export function factDocuments(): readonly SearchDocument[] {
  return (cached ??= build()).docs;
}

/** A name as a file name: 'Marta Quillon' → 'marta-quillon'. */
export const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-');

/** Writes the collection as Markdown, people/{slug}.md and towns/{slug}.md; returns the relative paths. */
export async function writeFactDocs(dir: string): Promise<string[]> {
  const docs = factDocuments();
  const paths: string[] = [];
  for (const [i, e] of factEntities().entries()) {
    const folder = e.kind === 'person' ? 'people' : 'towns';
    await mkdir(join(dir, folder), { recursive: true });
    const path = `${folder}/${slug(e.name)}.md`;
    await writeFile(join(dir, path), `# ${e.name}\n\n${docs[i].text}\n`);
    paths.push(path);
  }
  return paths;
}

// ---- questions ----------------------------------------------------------------------------------

type Ask = { templates: string[]; answer: (e: never) => string; query?: (e: never) => string };
const PERSON_ASKS: Record<string, Ask> = {
  born: {
    templates: [
      'When was {n} born?',
      'In what year was {n} born?',
      'What year was {n} born in?',
      "What was {n}'s year of birth?",
    ],
    answer: (e: FactPerson) => String(e.born),
  },
  town: {
    templates: [
      'Which town was {n} from?',
      'Where did {n} come from?',
      "What was {n}'s home town?",
      'In which town did {n} grow up?',
    ],
    answer: (e: FactPerson) => e.town,
  },
  job: {
    templates: [
      "What was {n}'s job?",
      'What did {n} do for a living?',
      'What kind of work did {n} do?',
      "What was {n}'s trade?",
    ],
    answer: (e: FactPerson) => e.job,
  },
  invention: {
    templates: [
      'What did {n} invent?',
      "What was {n}'s most famous invention?",
      'Which invention is {n} known for?',
    ],
    answer: (e: FactPerson) => e.invention,
  },
  prize: {
    templates: ['Which prize did {n} win?', 'What award did {n} receive?', 'What prize was {n} given?'],
    answer: (e: FactPerson) => e.prize,
  },
  pet: {
    templates: ['What animal did {n} keep as a pet?', 'What pet did {n} have?', 'Which animal did {n} keep?'],
    answer: (e: FactPerson) => e.pet,
  },
  inventor: {
    templates: [
      'Who invented the {i}?',
      'Which person invented the {i}?',
      'Who came up with the {i}?',
      'Whose invention was the {i}?',
    ],
    answer: (e: FactPerson) => e.name,
    query: (e: FactPerson) => e.invention,
  },
};
const TOWN_ASKS: Record<string, Ask> = {
  founded: {
    templates: [
      'When was {n} founded?',
      'In what year was the town of {n} founded?',
      'What year was {n} founded in?',
    ],
    answer: (e: FactTown) => String(e.founded),
  },
  province: {
    templates: [
      'In which province is {n}?',
      'Which province is the town of {n} in?',
      'What province is {n} part of?',
    ],
    answer: (e: FactTown) => e.province,
  },
  river: {
    templates: ['Which river runs through {n}?', 'What river is {n} on?', 'On which river does {n} lie?'],
    answer: (e: FactTown) => e.river,
  },
  knownFor: {
    templates: ['What is {n} known for?', 'What is {n} famous for?', 'Why do travellers visit {n}?'],
    answer: (e: FactTown) => e.knownFor,
  },
};
const OPENERS = ['', '', '', 'Hi! ', 'Quick question: ', 'Do you know this? ', 'Please tell me: '];

/** FNV-1a of an entity's name: 1 in 5 entities are held out. */
export function isFactHeldOut(key: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % 5 === 0;
}

function ask(rng: Rng, e: FactEntity, a: Ask): FactQuestion {
  const x = e as never;
  let question = fill(pick(rng, a.templates), { n: e.name, i: e.kind === 'person' ? e.invention : '' });
  question = pick(rng, OPENERS) + question;
  if (rng.next() < 0.2) question = question.replace(/\?$/, '');
  return { question, answer: a.answer(x), query: a.query ? a.query(x) : e.name, key: e.name };
}

export interface FactQuestionOptions {
  /** Default 'train'. */
  split?: 'train' | 'heldout';
  /** Phrasings; default 1337. */
  seed?: number;
  /** Without it: one question per fact of the split. With it: `count` different questions, facts repeating. */
  count?: number;
}

/** Questions about the collection, with the answer and the search to make (see the file's header). */
export function generateFactQuestions(o: FactQuestionOptions = {}): FactQuestion[] {
  const rng = new Rng(o.seed ?? 1337);
  const held = o.split === 'heldout';
  const facts: [FactEntity, Ask][] = factEntities()
    .filter((e) => isFactHeldOut(e.name) === held)
    .flatMap((e) =>
      Object.values(e.kind === 'person' ? PERSON_ASKS : TOWN_ASKS).map((a): [FactEntity, Ask] => [e, a]),
    );
  if (o.count === undefined) return facts.map(([e, a]) => ask(rng, e, a));
  if (!Number.isInteger(o.count) || o.count < 1)
    throw new Error(`count must be a positive integer, got ${o.count}`);
  const seen = new Set<string>();
  const out: FactQuestion[] = [];
  for (let misses = 0; out.length < o.count;) {
    const q = ask(rng, ...pick(rng, facts));
    if (seen.has(q.question)) {
      if (++misses > 20000)
        throw new Error(
          `only ${out.length} different fact questions could be made for the ${held ? 'held-out' : 'train'} split; ask for fewer`,
        );
      continue;
    }
    misses = 0;
    seen.add(q.question);
    out.push(q);
  }
  return out;
}
