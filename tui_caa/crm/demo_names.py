"""Data lists for the demo dealership (see `demo.py`): names, places, cars, services, notes.

Plain data only; the choices and the weights live in `demo.py`.
"""

from __future__ import annotations

MALE_FIRST_NAMES = (
    "João", "José", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz", "Marcos",
    "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo", "Felipe", "Rodrigo",
    "Sérgio", "Fábio", "Márcio", "Vinícius", "André", "Jorge", "Otávio", "Renato", "Júlio",
    "César", "Gustavo", "Leonardo", "Matheus", "Thiago", "Ricardo", "Fernando", "Alexandre",
    "Cláudio", "Roberto", "Flávio", "Mauro", "Valdir", "Ângelo", "Henrique", "Guilherme", "Caio",
    "Arthur", "Heitor", "Davi", "Murilo", "Inácio", "Joaquim", "Gonçalo", "Édson", "Vítor",
)  # fmt: skip

FEMALE_FIRST_NAMES = (
    "Maria", "Ana", "Conceição", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia",
    "Fernanda", "Patrícia", "Aline", "Sandra", "Camila", "Amanda", "Bruna", "Letícia", "Júlia",
    "Luíza", "Mônica", "Cecília", "Flávia", "Lúcia", "Inês", "Fátima", "Gabriela", "Bárbara",
    "Tânia", "Vitória", "Helena", "Beatriz", "Larissa", "Natália", "Débora", "Simone", "Cláudia",
    "Rosângela", "Vânia", "Sônia", "Lívia", "Valéria", "Raquel", "Carolina", "Priscila",
    "Alessandra", "Jéssica", "Marília", "Rosa", "Terezinha", "Lúcia Helena", "Ana Paula",
    "Maria Eduarda", "Maria da Graça", "Maria de Lourdes",
)  # fmt: skip

SURNAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Pereira", "Lima", "Carvalho", "Ferreira", "Rodrigues",
    "Almeida", "Costa", "Gomes", "Martins", "Araújo", "Melo", "Barbosa", "Ribeiro", "Alves",
    "Cardoso", "Rocha", "Gonçalves", "Machado", "Fernandes", "Teixeira", "Mendes", "Moreira",
    "Nunes", "Soares", "Vieira", "Monteiro", "Moraes", "Freitas", "Correia", "Brandão", "Magalhães",
    "Conceição", "Assunção", "Guimarães", "Lopes", "Schmidt", "Becker", "Müller", "Weber",
    "Schneider", "Klein", "Wagner", "Bortolini", "Zanella", "Tonin", "Bianchi", "Dal Molin",
    "Fagundes", "Flores", "Prestes", "Brum", "Ávila", "Farias", "Xavier", "Simões", "Estêvão",
)  # fmt: skip

# Particles a Brazilian name often has before a surname ("Maria da Silva", "José dos Santos").
NAME_PARTICLES = {
    "Silva": "da", "Santos": "dos", "Oliveira": "de", "Souza": "de", "Conceição": "da",
    "Assunção": "da", "Costa": "da", "Rocha": "da", "Lima": "de", "Freitas": "de", "Moraes": "de",
    "Ávila": "de", "Araújo": "de", "Almeida": "de", "Melo": "de",
}  # fmt: skip

SELLER_NAMES = (
    "Ana Paula Ferreira", "Marcos Vinícius Rocha", "Juliana Bortolini", "Rodrigo Gonçalves",
    "Patrícia Schmidt", "Fábio Assunção Lima", "Letícia Zanella", "Sérgio Machado",
    "Camila Conceição", "Otávio Brandão",
)

# "<kind> <surname> <suffix>", e.g. "Transportes Silva Ltda".
COMPANY_KINDS = (
    "Transportes", "Auto Peças", "Construtora", "Agropecuária", "Comércio de Alimentos",
    "Madeireira", "Imobiliária", "Locadora de Veículos", "Distribuidora", "Materiais de Construção",
    "Ferragens", "Farmácia", "Padaria e Confeitaria", "Serralheria", "Vinícola", "Mudanças",
    "Escritório Contábil", "Clínica Odontológica",
)  # fmt: skip
COMPANY_SUFFIXES = ("Ltda", "Ltda", "Ltda", "ME", "EPP", "S/A", "& Filhos Ltda", "EIRELI")

# (city, UF, DDD, weight): mostly Porto Alegre and its metropolitan area (DDD 51), some
# elsewhere in Rio Grande do Sul, and a few customers from other states.
CITIES = (
    ("Porto Alegre", "RS", "51", 40),
    ("Canoas", "RS", "51", 8),
    ("Novo Hamburgo", "RS", "51", 5),
    ("São Leopoldo", "RS", "51", 5),
    ("Gravataí", "RS", "51", 5),
    ("Viamão", "RS", "51", 4),
    ("Cachoeirinha", "RS", "51", 4),
    ("Alvorada", "RS", "51", 3),
    ("Esteio", "RS", "51", 2),
    ("Sapucaia do Sul", "RS", "51", 2),
    ("Guaíba", "RS", "51", 2),
    ("Eldorado do Sul", "RS", "51", 1),
    ("Caxias do Sul", "RS", "54", 3),
    ("Bento Gonçalves", "RS", "54", 1),
    ("Pelotas", "RS", "53", 2),
    ("Santa Maria", "RS", "55", 2),
    ("Florianópolis", "SC", "48", 2),
    ("Criciúma", "SC", "48", 1),
    ("Curitiba", "PR", "41", 1),
    ("São Paulo", "SP", "11", 2),
    ("Rio de Janeiro", "RJ", "21", 1),
)

EMAIL_DOMAINS = (
    "gmail.com", "gmail.com", "gmail.com", "hotmail.com", "hotmail.com", "yahoo.com.br",
    "outlook.com", "terra.com.br", "uol.com.br", "bol.com.br", "brturbo.com.br",
)  # fmt: skip

# (model, first model year sold, last model year sold, VIN world manufacturer id)
CAR_MODELS = (
    ("Chevrolet Onix", 2013, 2026, "9BG"),
    ("Chevrolet Prisma", 2008, 2019, "9BG"),
    ("Chevrolet Tracker", 2013, 2026, "9BG"),
    ("Chevrolet S10", 2008, 2026, "9BG"),
    ("VW Gol", 2008, 2023, "9BW"),
    ("VW Voyage", 2009, 2023, "9BW"),
    ("VW Polo", 2018, 2026, "9BW"),
    ("VW T-Cross", 2020, 2026, "9BW"),
    ("VW Saveiro", 2008, 2026, "9BW"),
    ("VW Nivus", 2021, 2026, "9BW"),
    ("Fiat Strada", 2008, 2026, "9BD"),
    ("Fiat Uno", 2008, 2021, "9BD"),
    ("Fiat Mobi", 2017, 2026, "9BD"),
    ("Fiat Argo", 2018, 2026, "9BD"),
    ("Fiat Toro", 2016, 2026, "988"),
    ("Fiat Pulse", 2022, 2026, "9BD"),
    ("Hyundai HB20", 2013, 2026, "9BH"),
    ("Hyundai Creta", 2017, 2026, "9BH"),
    ("Toyota Corolla", 2008, 2026, "9BR"),
    ("Toyota Corolla Cross", 2021, 2026, "9BR"),
    ("Toyota Hilux", 2008, 2026, "8AJ"),
    ("Toyota Yaris", 2019, 2026, "9BR"),
    ("Jeep Renegade", 2016, 2026, "988"),
    ("Jeep Compass", 2017, 2026, "988"),
    ("Renault Kwid", 2018, 2026, "93Y"),
    ("Renault Sandero", 2008, 2022, "93Y"),
    ("Renault Duster", 2012, 2026, "93Y"),
    ("Ford Ka", 2008, 2021, "9BF"),
    ("Ford EcoSport", 2008, 2021, "9BF"),
    ("Ford Ranger", 2008, 2026, "8AF"),
    ("Honda Civic", 2008, 2021, "93H"),
    ("Honda HR-V", 2016, 2026, "93H"),
    ("Honda City", 2010, 2026, "93H"),
    ("Nissan Kicks", 2017, 2026, "94D"),
    ("Nissan Versa", 2012, 2026, "94D"),
    ("BYD Dolphin", 2024, 2026, "LGX"),
)

# Light commercial vehicles, for company fleets.
FLEET_MODELS = ("Fiat Strada", "VW Saveiro", "Toyota Hilux", "Chevrolet S10", "Ford Ranger", "Fiat Toro")

SERVICES = (
    "Revisão dos 10.000 km", "Revisão dos 20.000 km", "Revisão dos 30.000 km",
    "Revisão dos 40.000 km", "Revisão anual", "Troca de óleo e filtro", "Troca de óleo e filtro",
    "Alinhamento e balanceamento", "Alinhamento e balanceamento", "Troca de pastilhas de freio",
    "Higienização do ar-condicionado", "Troca de bateria", "Troca de pneus",
    "Diagnóstico de ruído na suspensão", "Recall: airbag do motorista", "Funilaria e pintura",
    "Test drive", "Test drive", "Avaliação do usado para troca", "Entrega do veículo 0 km",
)  # fmt: skip

APPOINTMENT_NOTES = (
    "", "", "", "Cliente aguarda na loja.", "Levar e buscar (leva e traz).",
    "Pediu carro reserva.", "Cliente relatou barulho ao frear.", "Conferir garantia de fábrica.",
    "Orçamento aprovado por telefone.", "Chega antes das 9h.", "Trazer manual e chave reserva.",
)  # fmt: skip

# Contact notes by outcome (ContactOutcome values); {model} and {service} are filled in.
CONTACT_NOTES = {
    "interested": (
        "Cliente interessado no {model} 0 km; pediu condições de financiamento.",
        "Quer trocar o {model} por um SUV; avaliar o usado.",
        "Perguntou sobre o {model} seminovo anunciado; enviar fotos pelo WhatsApp.",
        "Interessado em consórcio; mandar simulação por e-mail.",
    ),
    "appointment_set": (
        "Agendado: {service} do {model}.",
        "Cliente confirmou {service}; lembrar um dia antes.",
        "Marcado test drive do {model} para sábado de manhã.",
    ),
    "call_back": (
        "Pediu para retornar depois das 18h.",
        "Vai conversar com a esposa e retorna; ligar de volta na semana que vem.",
        "Está viajando; retornar na segunda-feira.",
        "Aguardando aprovação do financiamento; ligar de volta.",
    ),
    "sale": (
        "Venda fechada: {model} 0 km, entrega em 15 dias.",
        "Fechou o {model} com o usado na troca.",
        "Comprou kit de acessórios e película para o {model}.",
    ),
    "information": (
        "Perguntou o horário da oficina no sábado.",
        "Quis saber o valor da revisão do {model}.",
        "Pediu segunda via do boleto do serviço.",
        "Perguntou se o {model} tem recall pendente.",
    ),
    "not_interested": (
        "Já comprou em outra concessionária.",
        "Sem interesse no momento; não ligar antes de seis meses.",
        "Achou o preço da revisão alto; vai fazer em oficina de bairro.",
    ),
    "wrong_number": (
        "Número errado; quem atendeu não conhece o cliente.",
        "Número não pertence mais ao cliente; atualizar cadastro.",
    ),
}

CUSTOMER_NOTES = (
    "Prefere contato por WhatsApp.", "Cliente desde 2015.", "Não ligar no horário de almoço.",
    "Frotista: falar com o setor de compras.", "Indicou dois clientes.", "Prefere ser chamado pelo apelido.",
)  # fmt: skip
