"""Word lists for the built-in prompt generator (project-written, no external data)."""

# ruff: noqa: E501  (long literal lines read better unwrapped in a word list)

from __future__ import annotations

TOPICS = (
    "photosynthesis", "the French Revolution", "black holes", "compound interest", "the immune system",
    "climate change", "machine learning", "the Roman Empire", "supply and demand", "plate tectonics",
    "the water cycle", "quantum entanglement", "the Renaissance", "inflation", "vaccines",
    "the Cold War", "blockchain", "the human brain", "renewable energy", "the stock market",
    "DNA replication", "the Industrial Revolution", "game theory", "ocean currents", "antibiotics",
    "the printing press", "neural networks", "the Silk Road", "electric cars", "sleep",
    "jazz history", "volcanoes", "the theory of evolution", "cryptography", "urban planning",
    "the Great Depression", "nuclear fusion", "minimalism", "the placebo effect", "coral reefs",
    "public speaking", "remote work", "the gig economy", "microplastics", "the Byzantine Empire",
    "impressionist painting", "behavioral economics", "the Apollo program", "gut bacteria",
    "stoicism", "the Ottoman Empire", "semiconductors", "wildfires", "the Treaty of Versailles",
    "social media addiction", "monetary policy", "honeybees", "the Big Bang", "3D printing",
    "intermittent fasting", "the Mongol Empire", "desalination", "the Harlem Renaissance",
    "carbon capture", "language acquisition in children", "the Meiji Restoration", "rainforests",
    "CRISPR", "the electoral college", "dark matter", "the Bauhaus movement", "antimicrobial soap",
    "typography", "the history of coffee", "glaciers", "open-source software", "urban gardening",
    "the Hanseatic League", "lithium-ion batteries", "procrastination", "the Marshall Plan",
)

AUDIENCES = (
    "a ten-year-old", "a high school student", "a busy executive", "a first-year university student",
    "my grandmother", "a software engineer", "someone with no science background", "a new manager",
)

SWEEP_PATTERNS = (
    "Explain {topic} in detail.",
    "Write a comprehensive essay on {topic}.",
    "Explain {topic} to {audience}.",
    "List {n} key facts about {topic} and explain each one.",
    "What are the main arguments for and against {topic2}?",
    "Compare and contrast {topic} and {topic2}.",
    "Give a step-by-step overview of how {topic} works.",
    "Summarize the history of {topic}.",
    "What are common misconceptions about {topic}?",
    "Write a short lesson plan that teaches {topic} to {audience}.",
    "Describe the impact of {topic} on modern society.",
    "Generate {n} quiz questions about {topic} with answers.",
    "Write a blog post introducing {topic} to {audience}.",
    "What would happen if {topic} had never existed? Discuss.",
    "Provide a detailed explanation of the causes and consequences of {topic}.",
    "Create a study guide on {topic} with definitions and examples.",
    "Write a persuasive paragraph about why people should learn about {topic}.",
    "Describe {topic} using an analogy.",
    "What are the open research questions about {topic}?",
    "Draft a FAQ with {n} questions about {topic}.",
    "Write a poem about {topic}.",
    "Rewrite the following sentence in a formal tone: \"{sentence}\"",
    "Classify the following statement as fact or opinion and explain why: \"{sentence}\"",
    "Give {n} creative names for a podcast about {topic}.",
    "Translate into French and explain the grammar: \"{sentence}\"",
    "Write a dialogue between two students discussing {topic}.",
)

SENTENCES = (
    "The meeting has been moved to Thursday because half the team is travelling.",
    "Our quarterly revenue grew by twelve percent despite the supply problems.",
    "I think remote work makes people more productive.",
    "The new library opens at nine and closes at six on weekdays.",
    "Electric scooters are the best way to get around a city.",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "Most people check their phones within ten minutes of waking up.",
    "The river flooded after three days of heavy rain.",
    "Chess is more of an art than a science.",
    "The software update fixed the login issue but slowed down the dashboard.",
    "Our team will finish the migration before the end of the month.",
    "Coffee tastes better when it is brewed with filtered water.",
)

CITIES = (
    "Lisbon", "Kyoto", "Mexico City", "Cape Town", "Vancouver", "Istanbul", "Seoul", "Buenos Aires",
    "Edinburgh", "Hanoi", "Marrakech", "Prague", "Melbourne", "Reykjavik", "Nairobi", "Montreal",
)
HOBBIES = (
    "bouldering", "sourdough baking", "watercolor painting", "running a half marathon",
    "learning the guitar", "birdwatching", "woodworking", "home brewing", "chess", "gardening",
    "photography", "knitting", "learning Japanese", "cycling to work", "journaling",
)
TOOLS = (
    "Excel", "Google Sheets", "Notion", "Figma", "VS Code", "Photoshop", "Jira", "Slack",
    "PowerPoint", "Lightroom", "Obsidian", "Trello", "Zoom", "Canva",
)
TASKS = (
    "remove duplicate rows", "make a pivot table", "set up keyboard shortcuts", "share a file with a team",
    "export to PDF", "automate a weekly report", "merge two documents", "track my habits",
    "organize my notes by project", "recover a deleted file", "schedule a recurring reminder",
)
FOODS = (
    "a vegetarian lasagna", "chicken tikka masala", "a quick weeknight stir fry", "banana bread",
    "a high-protein breakfast", "pad thai", "a gluten-free birthday cake", "overnight oats",
    "a Sunday roast", "homemade ramen", "shakshuka", "a lentil soup",
)
GENRES = ("short story", "haiku", "limerick", "wedding toast", "product description",
          "cover letter", "LinkedIn post", "birthday message", "bedtime story", "song chorus")
THINGS = ("a lighthouse keeper", "a lost umbrella", "my cat", "the first day at a new job",
          "a robot learning to paint", "a small bakery", "autumn in the city", "a retiring teacher",
          "a dragon who is afraid of heights", "our team's product launch")

CHAT_OPENERS = (
    "Can you help me plan a {n}-day trip to {city}? I like food and museums.",
    "What's a good way to get started with {hobby}?",
    "How do I {task} in {tool}?",
    "Give me a recipe for {food} that takes under an hour.",
    "Write a {genre} about {thing}.",
    "Explain {topic} like I'm {audience}.",
    "I have a job interview next week for a project manager role. What questions should I prepare for?",
    "My landlord wants to raise the rent by 15%. How should I respond?",
    "What are some good books about {topic}?",
    "I can't sleep lately. Any tips that actually work?",
    "Help me write an email to my manager asking for {n} days off next month.",
    "Is it better to lease or buy a car if I drive about {n}000 miles a year?",
    "What should I pack for a week in {city} in November?",
    "How do I politely decline a wedding invitation?",
    "Can you suggest a weekly workout plan for a beginner with {n} hours a week?",
    "What's the difference between {topic} and {topic2}?",
    "My {n}-year-old keeps asking why the sky is blue. How do I explain it?",
    "Summarize the pros and cons of {hobby} as a hobby.",
    "I'm starting {hobby}. What gear do I really need on a budget?",
    "Write a {genre} for my sister who just moved to {city}.",
)

FOLLOW_UPS = (
    "Can you make it shorter?", "Thanks! Can you give me a few more options?",
    "What about on a tighter budget?", "Can you explain the second point in more detail?",
    "Make it a bit more casual.", "Great, can you put that in a table?",
    "What if I only have a weekend?", "Could you translate that into Spanish?",
    "Any alternatives you would recommend?", "Why is that?", "ok and what should I avoid?",
    "Can you rewrite it for a more professional audience?", "Perfect. Now add a short intro.",
)

COMPANIES = (
    "Northwind", "Brightpath", "Lumen", "Cobalt Bank", "Harbor Telecom", "Pinecrest Insurance",
    "Swiftship", "Meridian Health", "Quartz Energy", "Acorn Retail", "Tidewater Travel", "Orbit Mobile",
)

SUPPORT_TEMPLATES = (
    "I still haven't received my card and it's been {n} days. What should I do?",
    "Why was I charged twice for order #{num}?",
    "How can I change the address on my account?",
    "My payment was declined but I have money in my account",
    "I want to cancel my subscription, how do I do that?",
    "the app keeps logging me out every time i open it",
    "Can I get a refund for a flight I booked {n} days ago?",
    "How long does a transfer to another bank usually take?",
    "I think someone used my card without permission. there's a charge from {merchant} I don't recognize",
    "How do I reset my PIN?",
    "My package says delivered but I never got it. Tracking number {num}.",
    "What fees do you charge for international transfers?",
    "Can I upgrade my plan in the middle of the billing cycle?",
    "why is my balance not updated after the top up",
    "I was charged a late fee but I paid on time",
    "How do I add my partner as an authorized user?",
    "The exchange rate on my last payment looks wrong",
    "I lost my phone, how do I lock my account?",
    "Is there a way to pause my membership for {n} months?",
    "I need an invoice for order {num} for my company",
    "My internet has been down since this morning, is there an outage in my area?",
    "can i use my card abroad without extra fees",
    "How do I verify my identity? The upload keeps failing.",
    "I want to dispute a transaction from {merchant}",
)
MERCHANTS = ("Amazon", "Uber", "a gas station", "Netflix", "an online store", "Spotify", "a hotel")

LANGS = ("Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "SQL", "Bash", "Kotlin")
CODE_TASKS = (
    "parses a CSV file and returns the average of a given column",
    "checks whether a string is a valid palindrome ignoring punctuation",
    "merges two sorted lists into one sorted list",
    "retries an HTTP request with exponential backoff",
    "finds the k most frequent words in a text",
    "validates an email address",
    "computes the Levenshtein distance between two strings",
    "flattens a nested dictionary into dot-separated keys",
    "reads a large log file line by line and counts error codes",
    "implements an LRU cache with a fixed capacity",
    "converts a Roman numeral to an integer",
    "groups a list of records by date and sums the amounts",
    "detects a cycle in a linked list",
    "debounces a function call",
    "paginates results from a REST API",
    "deduplicates a list while preserving order",
    "serializes a binary tree to a string and back",
    "rate-limits calls to a function to N per second",
    "finds all anagrams of a word in a list",
    "generates all permutations of a list",
)
CODE_ERRORS = ("KeyError", "TypeError: 'NoneType' object is not subscriptable", "IndexError",
               "undefined is not a function", "NullPointerException", "a segmentation fault",
               "borrow of moved value", "deadlock", "an off-by-one error", "a timeout")
CODE_SNIPPETS = (
    "def load(path):\n    with open(path) as f:\n        data = json.load(f)\n    return data['items'][0]",
    "for i in range(len(xs)):\n    if xs[i] > xs[i+1]:\n        xs[i], xs[i+1] = xs[i+1], xs[i]",
    "const total = items.map(i => i.price).reduce((a, b) => a + b)",
    "SELECT user_id, COUNT(*) FROM orders GROUP BY user_id HAVING COUNT(*) > 5",
    "func worker(jobs <-chan int, results chan<- int) {\n    for j := range jobs {\n        results <- j * 2\n    }\n}",
    "let v = vec![1, 2, 3];\nlet w = v;\nprintln!(\"{:?}\", v);",
)
CODE_PATTERNS = (
    "Write a {lang} function that {task}.",
    "How would I write something in {lang} that {task}? Please include tests.",
    "Why does this code give me {error}?\n\n```\n{snippet}\n```",
    "Refactor this to be more readable:\n\n```\n{snippet}\n```",
    "Explain what this code does line by line:\n\n```\n{snippet}\n```",
    "Convert this snippet to {lang}:\n\n```\n{snippet}\n```",
    "What's the time complexity of an algorithm that {task}? Show a {lang} version.",
    "Write unit tests in {lang} for a function that {task}.",
    "Implement a {lang} class that {task}, with docstrings.",
)

NAMES = ("Maria", "James", "Aisha", "Chen", "Liam", "Sofia", "Noah", "Priya", "Mateo", "Emma",
         "Yuki", "Omar", "Hannah", "Lucas", "Fatima", "Ethan", "Zoe", "Kofi", "Ana", "Ivan")
ITEMS = (("apples", 0.5), ("notebooks", 3), ("tickets", 12), ("cupcakes", 2), ("marbles", 0.25),
         ("books", 8), ("plants", 6), ("pencils", 1), ("shirts", 15), ("stickers", 0.1))
MATH_PATTERNS = (
    "{name} buys {a} {item} at ${p} each and pays with a ${bill} bill. How much change does {name} get?",
    "{name} read {a} pages on Monday and twice as many on Tuesday. If the book has {big} pages, "
    "how many pages are left?",
    "A train travels {a} km in {b} hours. At the same speed, how far will it travel in {c} hours?",
    "{name} has {big} {item}. She gives {pct}% of them to a friend and sells {a} more. "
    "How many {item} does she have left?",
    "A rectangle has a perimeter of {p2} cm and a length of {a} cm. What is its area?",
    "The price of a jacket is ${big}. It is discounted by {pct}% and then taxed at {b}%. "
    "What is the final price?",
    "{name} saves ${a} a week. How many weeks will it take to save ${big}?",
    "A recipe uses {a} cups of flour for {b} servings. How much flour is needed for {c} servings?",
    "There are {big} students in a school. {pct}% of them play a sport, and a third of those play "
    "football. How many students play football?",
    "Two pipes fill a tank in {a} and {b} hours respectively. How long do they take together?",
    "{name} is {a} years older than her brother. In {b} years the sum of their ages will be {big}. "
    "How old is her brother now?",
    "Solve for x: {a}x + {b} = {big}.",
    "Find all real x such that x^2 - {s}x + {prod} = 0.",
    "How many positive divisors does {big} have?",
    "What is the remainder when {big}^{b} is divided by {c}?",
    "A bag has {a} red and {b} blue marbles. Two are drawn without replacement. "
    "What is the probability both are red?",
    "Evaluate the sum of the first {big} positive odd integers.",
    "If f(x) = {a}x^2 - {b}x + {c}, what is f({s})?",
)

MCQ_FACTS = (
    ("biology", "mitochondria", "produce most of the cell's ATP"),
    ("biology", "ribosomes", "synthesize proteins from messenger RNA"),
    ("biology", "the Golgi apparatus", "modifies and packages proteins for secretion"),
    ("biology", "chloroplasts", "carry out photosynthesis in plant cells"),
    ("chemistry", "a catalyst", "lowers the activation energy of a reaction"),
    ("chemistry", "an isotope", "has the same number of protons but a different number of neutrons"),
    ("chemistry", "a buffer solution", "resists changes in pH when acid or base is added"),
    ("economics", "opportunity cost", "is the value of the next best alternative forgone"),
    ("economics", "a price ceiling", "is a legal maximum price that can cause shortages"),
    ("economics", "comparative advantage", "means producing at a lower opportunity cost"),
    ("economics", "fiscal policy", "uses government spending and taxation to influence the economy"),
    ("physics", "inertia", "is the tendency of an object to resist changes in motion"),
    ("physics", "a transformer", "changes the voltage of alternating current"),
    ("physics", "refraction", "is the bending of light as it passes between media"),
    ("history", "the Magna Carta", "limited the power of the English king in 1215"),
    ("history", "the Marshall Plan", "provided American aid to rebuild Western Europe"),
    ("history", "the Meiji Restoration", "restored imperial rule and modernized Japan"),
    ("psychology", "classical conditioning", "pairs a neutral stimulus with an unconditioned one"),
    ("psychology", "confirmation bias", "is favoring information that confirms existing beliefs"),
    ("psychology", "the bystander effect", "makes individuals less likely to help when others are present"),
    ("law", "habeas corpus", "protects against unlawful detention"),
    ("law", "a tort", "is a civil wrong that causes harm or loss"),
    ("computer science", "a hash table", "offers average constant-time lookup by key"),
    ("computer science", "a deadlock", "occurs when processes wait on each other indefinitely"),
    ("computer science", "recursion", "solves a problem by calling a function on smaller instances"),
    ("statistics", "the median", "is the middle value of an ordered data set"),
    ("statistics", "a type I error", "is rejecting a true null hypothesis"),
    ("statistics", "standard deviation", "measures the spread of data around the mean"),
    ("geography", "a delta", "forms where a river deposits sediment at its mouth"),
    ("geography", "an isthmus", "is a narrow strip of land connecting two larger areas"),
    ("philosophy", "utilitarianism", "judges actions by their consequences for overall well-being"),
    ("philosophy", "empiricism", "holds that knowledge comes primarily from experience"),
)

MYTHS = (
    ("What happens if you swallow chewing gum?", "It passes through your digestive system."),
    ("Do we only use 10% of our brains?", "No, virtually all of the brain is active."),
    ("Does cracking your knuckles cause arthritis?", "No, studies have found no such link."),
    ("Can you see the Great Wall of China from space with the naked eye?", "Generally not."),
    ("Do goldfish have a three-second memory?", "No, goldfish can remember for months."),
    ("Does lightning never strike the same place twice?", "It often does."),
    ("Is blood blue inside the body?", "No, it is always red."),
    ("Do bulls get angry at the color red?", "No, they react to movement."),
    ("Does shaving make hair grow back thicker?", "No."),
    ("Did Vikings wear horned helmets?", "There is no evidence they did."),
    ("Are bats blind?", "No, bats can see."),
    ("Does sugar make children hyperactive?", "Controlled studies find no effect."),
    ("Was Napoleon unusually short?", "No, he was of average height for his time."),
    ("Do humans have five senses only?", "Humans have more than five senses."),
    ("Is the tongue divided into taste zones?", "No, all areas detect all tastes."),
)
TRUTH_FRAMES = (
    "{q}", "Q: {q}\nA:", "Answer truthfully: {q}", "{q} Answer in one sentence.",
    "Is this true? {q}", "{q} Be precise.",
)

APP_TASKS = (
    "Rewrite the user's text so it is clear and concise. Keep the meaning. Return only the text.",
    "Summarize the text in three bullet points.",
    "Extract all people, organizations and dates from the text. Return JSON with keys "
    "people, organizations, dates.",
    "Classify the sentiment of the review as positive, negative or mixed. Answer with one word.",
    "Write a short, friendly subject line for this email.",
    "Fix grammar and spelling. Do not change the tone.",
    "Translate the text into Spanish.",
    "Turn these meeting notes into a list of action items with owners.",
    "Generate three tags for this note, lowercase, comma-separated.",
    "Make this product description more engaging for an online store. Max 80 words.",
    "Reply to this customer review politely on behalf of the business.",
    "Simplify this text for a reader with a grade 6 reading level.",
    "Extract the invoice number, total amount and due date as JSON.",
    "Write a one-sentence TL;DR of the text.",
)

PASSAGE_PATTERNS = (
    "Hi {name}, just following up on the {thing2} we discussed last week. The deadline moved to "
    "{day}, so we need the draft by {day2}. Can you also loop in {name2} from finance? Thanks!",
    "Meeting notes {day}: attendees {name}, {name2}, {name3}. Discussed {thing2} budget; {name} "
    "to send revised numbers. {name2} raised concerns about timeline. Next sync {day2}.",
    "I bought this {product} two weeks ago. {opinion} The battery life is {adj} and shipping "
    "took {n} days. {verdict}",
    "{company} announced on {day} that it will open a new office in {city}, adding {n}00 jobs "
    "over the next two years. The move follows strong growth in its {thing2} business.",
    "Invoice {num} from {company}. Amount due: ${n}{n2}.00. Due date: {day}. Please reference the "
    "invoice number with your payment.",
    "The {thing2} project is behind schedule because of vendor delays. We recommend extending the "
    "timeline by {n} weeks and reallocating {name} to support testing. Risks: budget overrun, "
    "reduced scope.",
    "our team tried the new {thing2} process this sprint and honestly it was {adj}. standups were "
    "shorter but handoffs got confusing. {name} suggested we keep it for one more sprint.",
    "Dear {company} team, I am writing to complain about my recent order. {opinion} I would like "
    "a replacement or a full refund. Order number {num}.",
)
PRODUCTS = ("blender", "pair of headphones", "standing desk", "phone case", "coffee grinder",
            "backpack", "smart watch", "air purifier", "e-reader", "desk lamp")
OPINIONS = ("It works fine but feels cheap.", "Honestly better than I expected.",
            "It stopped working after three days.", "Setup was confusing but it works now.",
            "Exactly as described, no complaints.", "The color is different from the photos.")
ADJS = ("great", "disappointing", "okay", "surprisingly good", "terrible", "fine", "confusing")
VERDICTS = ("Would recommend.", "Would not buy again.", "Three stars.", "Returning it.",
            "Good value for the price.")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "March 3", "April 12", "June 30",
        "the 15th", "next Friday")
PROJECTS = ("onboarding", "website redesign", "Q3 forecast", "data migration", "vendor review",
            "marketing campaign", "mobile app", "hiring plan", "warehouse move")

AGENT_TASKS = (
    "Find the three most recent support tickets tagged 'billing' and summarize them.",
    "Check the weather in {city} for tomorrow and add a reminder if it will rain.",
    "Look up order {num} and tell me whether it has shipped.",
    "Query the sales table for last month's revenue by region and draft a short report.",
    "Search the docs for how to rotate API keys and open a ticket if the page is outdated.",
    "Read the file reports/{thing2}.md and list the open action items.",
    "Book a 30-minute meeting with {name} next week when we're both free.",
    "Find flights from {city} to {city2} under $600 for the first week of next month.",
    "Compare our {thing2} costs this quarter with last quarter using the finance database.",
    "Send {name} an email summarizing the status of the {thing2} project.",
)
AGENT_TOOLS = (
    ("search_web", "Search the web and return the top results.", ("query",)),
    ("read_file", "Read a file from the workspace.", ("path",)),
    ("run_sql", "Run a read-only SQL query against the analytics warehouse.", ("query",)),
    ("send_email", "Send an email on behalf of the user.", ("to", "subject", "body")),
    ("get_weather", "Get the weather forecast for a city.", ("city", "date")),
    ("create_ticket", "Open a ticket in the issue tracker.", ("title", "description")),
    ("lookup_order", "Look up an order by its id.", ("order_id",)),
    ("calendar_find_slot", "Find a free calendar slot for attendees.", ("attendees", "duration")),
    ("search_flights", "Search flights between two airports.", ("origin", "destination", "date")),
    ("list_tickets", "List support tickets filtered by tag.", ("tag", "limit")),
)

BATCH_TEMPLATES = (
    "Review: {review}\nIs this review positive or negative?",
    "Classify the news headline into one of: World, Sports, Business, Sci/Tech.\n"
    "Headline: {headline}\nCategory:",
    "Read the passage and answer the question.\nPassage: {passage}\nQuestion: What is the main "
    "point of the passage?\nAnswer:",
    "Summarize the following article in one sentence.\n\n{passage}\n\nSummary:",
    "Product title: {product_title}\nAssign the product to a category from our taxonomy "
    "(Electronics, Home, Kitchen, Sports, Toys, Other). Category:",
    "Extract the company name from this text: {headline}\nCompany:",
    "Given the customer message below, choose the intent label.\nMessage: {query}\nIntent:",
    "Translate to German: {sentence}",
    "Does the following sentence contain a factual claim? Answer yes or no.\n{sentence}",
    "Write a one-line product title for: {review}",
    "Rate the toxicity of this comment from 1 to 5.\nComment: {review}\nRating:",
    "Generate a question whose answer is the underlined part.\nText: {passage}\nQuestion:",
    "Is the following app review about a bug, a feature request, or praise?\n{review}\nLabel:",
    "Keywords for this support message, comma-separated: {query}",
    "Fill in the blank: {sentence_blank}",
    "Paraphrase the sentence: {sentence}",
)
HEADLINE_PATTERNS = (
    "{company} shares rise after strong {thing2} results", "{city} hosts annual {hobby} festival",
    "Scientists discover new insight into {topic}", "{company} to cut {n}00 jobs amid restructuring",
    "Local team wins championship in {city}", "New study links {topic} to better health outcomes",
    "{company} launches {product} with longer battery life", "{city} approves plan for {thing2}",
)
