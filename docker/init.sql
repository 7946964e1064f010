CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, description text, price numeric(10,2));
INSERT INTO products VALUES
  (1, 'Espresso machine', 'Stainless steel pump espresso machine with milk frother', 349.00),
  (2, 'French press', 'Glass and steel coffee press for four cups', 29.90),
  (3, 'Burr grinder', 'Conical burr coffee grinder with 40 settings', 129.00),
  (4, 'Tea kettle', 'Gooseneck electric kettle with temperature control', 59.50),
  (5, 'Milk jug', 'Steel milk frothing pitcher', 14.00);
